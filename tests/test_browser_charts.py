"""Charts on a phone (390x844) and in dark mode, in headless chromium: Curves with four overlaid runs, a small
sweep's three charts and the confusion matrix each keep their title, axis titles and legend inside their box,
and none stays a white panel on a dark page.

SHOTS=/some/folder also saves each tab's screenshot there (phone and desktop, light and dark) to look at.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.browser]

from playwright.sync_api import TimeoutError as PlaywrightTimeoutError  # noqa: E402

from tests.support.browser import expect  # noqa: E402  (skips this module without chromium)

REPO = Path(__file__).resolve().parent.parent
PHONE, DESKTOP = {"width": 390, "height": 844}, {"width": 1280, "height": 900}
SWEEP = {"vary": ["lr", "dropout"], "fixed": "model=mlp,hidden_sizes=32,train_size=600,val_size=200,epochs=1"}
OVERLAID = ("default (bundled)", "cnn-small", "cnn-wide", "mlp-quick")
CHARTS = {  # tab: the elem_ids of its charts
    "Curves": ("step-plot", "epoch-loss-plot", "epoch-accuracy-plot"),
    "Sweep": ("sweep-history", "sweep-parallel", "sweep-importance"),
    "Evaluate": ("confusion",),
}
# Each part of a chart that must lie whole inside the chart's box: title, axis titles, legend.
BOXES_JS = """(root) => {
  const box = root.getBoundingClientRect();
  const parts = [...root.querySelectorAll('.gtitle, .g-gtitle text, .xtitle, .ytitle, .legend, .annotation')];
  return {box: [box.left, box.top, box.right, box.bottom], svgs: root.querySelectorAll('.main-svg').length,
          parts: parts.filter(p => p.getBoundingClientRect().width > 0).map(p => {
            const r = p.getBoundingClientRect();
            return {what: p.getAttribute('class') + ' ' + (p.textContent || '').slice(0, 40),
                    rect: [r.left, r.top, r.right, r.bottom]};
          })};
}"""


def _past_runs(folder: Path) -> None:
    """Three runs beside the bundled one, whose 20-epoch history (label smoothing 0.1) is scaled so the
    curves differ: four runs overlaid, as a visitor comparing runs sees them."""
    import torch

    bundled = torch.load(REPO / "checkpoints" / "default.pt", map_location="cpu", weights_only=False)
    for n, name in enumerate(OVERLAID[1:], 1):
        payload = dict(bundled)
        history = payload["history"]
        scale = 1 + 0.15 * n
        payload["history"] = {
            "steps": [{**p, "loss": p["loss"] * scale} for p in history["steps"]],
            "epochs": [
                {**e, **{k: e[k] * scale for k in ("train_loss", "val_loss")}, "val_acc": e["val_acc"] - 0.01 * n}
                for e in history["epochs"][: 20 - 4 * n]
            ],
        }
        torch.save(payload, folder / f"{name}.pt")


@pytest.fixture(scope="module")
def app(start_app, tmp_path_factory):
    """The app with past runs to overlay and a finished three-trial sweep (the Sweep tab shows the server's)."""
    from gradio_client import Client

    from tests.support.waiting import wait_for

    folder = tmp_path_factory.mktemp("runs")
    _past_runs(folder)
    server = start_app(checkpoints=folder)
    client = Client(server.url, verbose=False)
    client.predict(**SWEEP, trials=3, study="phone", api_name="/sweep")
    done = lambda: client.predict(api_name="/sweep_status")["status"] == "done"  # noqa: E731
    wait_for(done, "the sweep to finish", interval=0.5)
    return server


def _open(browser, url: str, viewport: dict, scheme: str):
    page = browser.new_context(viewport=viewport, color_scheme=scheme).new_page()
    page.goto(url)
    return page


def _show(page, tab: str) -> None:
    """Open `tab` and wait until its charts are drawn (Curves: with the four runs overlaid)."""
    expect(page.get_by_role("tab", name="Draw")).to_be_visible(timeout=60_000)  # the tab bar is laid out
    open_tab(page, tab)
    if tab == "Curves":
        overlay = page.get_by_label("Compare with past runs")
        for name in OVERLAID:
            # Typed first: the page's first tick adds the sweep's trials to the menu, and a bare click on
            # the list as it re-rendered picked the option that had moved under it (CI: phone-trial1).
            overlay.click()
            overlay.fill(name)
            page.get_by_role("option", name=name, exact=True).click()
        page.keyboard.press("Escape")
        # One legend entry each (the server's latest run, the sweep's last trial, only if it ended an epoch).
        legend = page.locator("#epoch-loss-plot .legend")
        for name in OVERLAID:
            expect(legend).to_contain_text(name, timeout=60_000)
    for chart in CHARTS[tab]:
        expect(page.locator(f"#{chart} .js-plotly-plot .gtitle")).to_be_visible(timeout=120_000)
    page.evaluate("document.fonts.ready")


def open_tab(page, tab: str, tries: int = 5) -> None:
    """Click `tab` in the tab bar or, where a phone's bar has moved it, in the overflow menu. The bar lays
    itself out again as the page settles, so a tab seen in it may have moved to the menu by the click."""
    for _ in range(tries):
        button = page.get_by_role("tab", name=tab)
        try:
            if button.is_visible():
                button.click(timeout=5_000)
            else:
                page.locator(".overflow-menu button").first.click(timeout=5_000)
                page.locator(".overflow-dropdown button", has_text=tab).click(timeout=5_000)
        except PlaywrightTimeoutError:
            continue
        return
    raise AssertionError(f"could not open the {tab} tab")


def _shoot(page, name: str) -> None:
    if folder := os.environ.get("SHOTS"):
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def _outside(measured: dict) -> list[str]:
    left, top, right, bottom = measured["box"]
    return [
        f"{part['what']!r} at {[round(v) for v in part['rect']]} leaves {[round(v) for v in measured['box']]}"
        for part in measured["parts"]
        if part["rect"][0] < left - 1
        or part["rect"][1] < top - 1
        or part["rect"][2] > right + 1
        or part["rect"][3] > bottom + 1
    ]


@pytest.mark.parametrize("tab", list(CHARTS))
def test_every_chart_keeps_its_title_axes_and_legend_inside_its_box_on_a_phone(app, browser, tab):
    page = _open(browser, app.url, PHONE, "light")
    try:
        _show(page, tab)
        _shoot(page, f"{tab.lower()}-phone")
        problems = []
        for chart in CHARTS[tab]:
            measured = page.locator(f"#{chart}").evaluate(BOXES_JS)
            assert measured["svgs"] and any(".gtitle" in p["what"] or "gtitle" in p["what"] for p in measured["parts"])
            width = measured["box"][2] - measured["box"][0]
            assert width <= PHONE["width"], f"#{chart} is {width} px wide on a {PHONE['width']} px page"
            problems += [f"#{chart}: {p}" for p in _outside(measured)]
        assert not problems, "\n".join(problems)
    finally:
        page.context.close()


def _brightness(png: bytes) -> float:
    from PIL import Image, ImageStat

    return ImageStat.Stat(Image.open(io.BytesIO(png)).convert("L")).mean[0]


@pytest.mark.parametrize("tab", list(CHARTS))
def test_charts_follow_a_dark_page(app, browser, tab):
    page = _open(browser, app.url, DESKTOP, "dark")
    try:
        _show(page, tab)
        _shoot(page, f"{tab.lower()}-dark")
        assert page.evaluate("document.body.classList.contains('dark')")
        for chart in CHARTS[tab]:
            plot = page.locator(f"#{chart}")
            assert _brightness(plot.screenshot()) < 100, f"#{chart} is a bright panel on a dark page"
            title = plot.locator(".gtitle").first
            fill = title.evaluate("t => getComputedStyle(t).fill")
            assert _brightness_of(fill) > 150, f"#{chart}'s title is drawn in {fill} on a dark page"
    finally:
        page.context.close()


def _brightness_of(css_color: str) -> float:
    """Perceived brightness (0-255) of a computed 'rgb(r, g, b)' colour."""
    r, g, b = (float(v) for v in css_color[css_color.index("(") + 1 : css_color.index(")")].split(",")[:3])
    return 0.299 * r + 0.587 * g + 0.114 * b


@pytest.mark.parametrize("tab", list(CHARTS))
def test_charts_fit_a_desktop_page(app, browser, tab):
    page = _open(browser, app.url, DESKTOP, "light")
    try:
        _show(page, tab)
        _shoot(page, f"{tab.lower()}-desktop")
        problems = []
        for chart in CHARTS[tab]:
            problems += [f"#{chart}: {p}" for p in _outside(page.locator(f"#{chart}").evaluate(BOXES_JS))]
        assert not problems, "\n".join(problems)
    finally:
        page.context.close()


def test_the_confusion_matrix_fills_its_box_on_a_phone(app, browser):
    """A fixed 480 px chart around a ~300 px square left empty bands above and below it on a phone."""
    page = _open(browser, app.url, PHONE, "light")
    try:
        _show(page, "Evaluate")
        box = page.locator("#confusion .js-plotly-plot").bounding_box()
        cells = page.locator("#confusion .js-plotly-plot .nsewdrag").first.bounding_box()  # the square of cells
        assert abs(cells["width"] - cells["height"]) < 2 and cells["width"] > 250, cells
        assert cells["height"] / box["height"] > 0.68, (
            f"a {cells['height']:.0f} px square in a {box['height']:.0f} px chart"
        )
    finally:
        page.context.close()
