"""End to end: the app in a subprocess, driven by Debian's chromium through Playwright.

Draws digits with real mouse strokes, trains a tiny run and watches its curve, evaluates, and
saves a screenshot of every tab to artifacts/ (and to docs/screenshots/ with UPDATE_SCREENSHOTS=1).
Playwright never downloads a browser here: it is pointed at /usr/bin/chromium.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.browser]

from tests.support.server import CHROMIUM, CHROMIUM_ARGS, AppServer  # noqa: E402

if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
expect = sync_api.expect

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "artifacts"
SCREENSHOTS = REPO / "docs" / "screenshots"
LABEL = "#prediction [data-testid=label-output-value]"
TIMINGS: dict[str, float] = {}

# Strokes as fractions of the drawing square (x, y).
SEVEN = [(-0.3, -0.35), (0.3, -0.35), (-0.05, 0.4)]
ONE = [(0.02, -0.38), (0.0, 0.38)]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`python app.py` on a free port with an empty checkpoint folder; yields the URL."""
    started = time.perf_counter()
    app = AppServer(checkpoints=tmp_path_factory.mktemp("runs"))
    try:
        app.start()
        with urllib.request.urlopen(app.url, timeout=30) as response:
            assert response.status == 200
        TIMINGS["startup_to_first_page_s"] = round(time.perf_counter() - started, 2)
        yield app.url
    finally:
        app.stop()
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "app-server.log").write_text(app.output())
        (ARTIFACTS / "timings.json").write_text(json.dumps(TIMINGS, indent=2))


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.goto(server)
    expect(page.locator("#sketchpad canvas").first).to_be_visible(timeout=30_000)
    # The app selects the brush itself once the page has loaded.
    expect(page.get_by_text("select the draw tool to start")).to_be_hidden(timeout=15_000)
    yield page
    context.close()


def shoot(page, name: str) -> None:
    """Save a full-page screenshot as a test artifact (and as documentation when asked)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if os.environ.get("UPDATE_SCREENSHOTS") == "1" and "-" not in name:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, SCREENSHOTS / f"{name}.png")


def draw(page, strokes: list[tuple[float, float]]) -> None:
    """One continuous mouse stroke through `strokes`, relative to the centre of the drawing area."""
    box = page.locator("#sketchpad canvas").first.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    side = min(box["width"], box["height"]) * 0.8
    points = [(cx + x * side, cy + y * side) for x, y in strokes]
    page.mouse.move(*points[0])
    page.mouse.down()
    for point in points[1:]:
        page.mouse.move(*point, steps=15)
    page.mouse.up()


def wait_for_label(page, text: str, timeout: float = 30_000) -> float:
    """Wait (on every animation frame) until the top prediction reads `text`; return the seconds waited."""
    started = time.perf_counter()
    page.wait_for_function(
        "([sel, text]) => document.querySelector(sel)?.textContent.trim() === text",
        arg=[LABEL, text],
        polling="raf",
        timeout=timeout,
    )
    return time.perf_counter() - started


def open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def test_empty_canvas_reads_no_digit(page):
    page.get_by_role("button", name="Predict", exact=True).click()
    wait_for_label(page, "no digit")
    expect(page.locator("#predict-info")).to_contain_text("Nothing to read")


def test_drawn_digits_are_read_as_they_are_drawn(page):
    draw(page, SEVEN)
    TIMINGS["predict_round_trip_s"] = round(wait_for_label(page, "7"), 3)
    expect(page.locator("#seen28 img")).to_be_visible()
    expect(page.locator("#probs .js-plotly-plot")).to_be_visible()
    shoot(page, "draw")

    page.locator('#sketchpad button[aria-label="Clear canvas"]').click()
    wait_for_label(page, "no digit")
    draw(page, ONE)
    TIMINGS["predict_round_trip_one_s"] = round(wait_for_label(page, "1"), 3)


def test_random_test_digit_shows_its_true_label(page):
    page.get_by_role("button", name="Random test digit").click()
    expect(page.locator("#predict-info")).to_contain_text("true label", timeout=30_000)
    expect(page.locator("#upload img")).to_be_visible()


def test_training_runs_in_the_background_and_draws_its_curves(page):
    open_tab(page, "Train")
    page.locator("#group-data").locator("button, .label-wrap").first.click()  # the data settings' accordion
    for name, value in (("train_size", "2000"), ("val_size", "500"), ("epochs", "1")):
        field = page.locator(f"#hp-{name} input[type=number]")
        field.fill(value)
        field.press("Enter")
        expect(field).to_have_value(value)
    page.locator("#start").click()
    expect(page.locator("#train-status")).to_contain_text("Started run", timeout=30_000)
    page.locator("#start").click()  # a second start while the first runs is refused, with its progress
    expect(page.get_by_text("A run is in progress (epoch 1/1").first).to_be_visible(timeout=15_000)

    open_tab(page, "Draw")  # other tabs keep working meanwhile
    draw(page, ONE)
    wait_for_label(page, "1", timeout=60_000)

    open_tab(page, "Curves")
    expect(page.locator("#step-plot .scatterlayer .trace").first).to_be_attached(timeout=120_000)
    expect(page.locator('#progress [data-status="done"]')).to_be_attached(timeout=300_000)
    expect(page.locator("#step-plot .scatterlayer .trace")).to_have_count(1)
    shoot(page, "curves")
    open_tab(page, "Train")
    expect(page.locator("#train-status")).to_contain_text("test accuracy")
    shoot(page, "train-finished")  # docs' train.png comes from tests/test_browser_train.py

    open_tab(page, "Runs")
    table = page.locator("#runs-table")
    expect(table).to_contain_text("cnn-", timeout=15_000)
    shoot(page, "runs")
    cells = table.get_by_text(re.compile(r"^cnn-\d{8}-\d{6}$"))
    cell = next(cells.nth(i) for i in range(cells.count()) if cells.nth(i).is_visible())
    name = cell.inner_text().strip()
    cell.click()  # clicking a row makes that run the active model
    expect(page.locator("#model-picker input")).to_have_value(name, timeout=15_000)


def test_evaluate_shows_the_confusion_matrix(page):
    open_tab(page, "Evaluate")
    expect(page.locator("#confusion .heatmaplayer image, #confusion .hm").first).to_be_attached(timeout=120_000)
    expect(page.get_by_text("test accuracy").first).to_be_visible()
    expect(page.locator("#confusion")).to_contain_text("true digit")
    shoot(page, "evaluate")


def test_data_tab_shows_labelled_samples(page):
    open_tab(page, "Data")
    expect(page.get_by_text("#0: label 5")).to_be_visible(timeout=60_000)
    shoot(page, "data")


@pytest.mark.parametrize(
    "path",
    ["gradio_api/file=/etc/passwd", "gradio_api/file=app.py", "gradio_api/file=checkpoints/default.pt"],
)
def test_the_server_serves_no_private_files(server, path):
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(server + path, timeout=30)
    assert refused.value.code in (403, 404)


def test_startup_was_fast(server):
    assert TIMINGS["startup_to_first_page_s"] < 30, TIMINGS  # ~5-7 s measured on 2 shared CPU cores
