"""Regenerate docs/screenshots/ from a clean page showing real runs (not part of the tests).

Starts `python app.py` with an empty checkpoint folder, runs a 12-trial sweep of the CNN on 5,000 images
and trains through the API a full-data 2-epoch MLP and the default CNN, then opens every tab in Debian's
chromium on a desktop page (1280x900) and a phone's (390x844), each light and dark, and saves each:

    docs/screenshots/<tab>.png  <tab>-dark.png  <tab>-phone.png  <tab>-phone-dark.png

    python docs/make_screenshots.py            # about 4 minutes on 2 CPU cores
    python docs/make_screenshots.py draw runs  # only these tabs (the sweep and runs are made all the same)

`not-a-digit` is the Draw tab answering a drawn cat ("not a digit", with the closest digit as a hint), and
`inside-not-a-digit` the Inside tab saying why.

A toast left on the page (an error or a notice) is reported and hidden before the shot: look at the
reported ones. (queue.png and queue-phone.png come from tests/test_browser_queue.py.)
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gradio_client import Client  # noqa: E402
from playwright.sync_api import expect, sync_playwright  # noqa: E402

from mnist_core.search_space import DEFAULT_VARY  # noqa: E402
from tests.support.nondigits_held import held_strokes  # noqa: E402
from tests.support.server import CHROMIUM, CHROMIUM_ARGS, AppServer  # noqa: E402
from tests.support.strokes import ONE, SEVEN, clear, mouse_stroke, wait_until_drawable  # noqa: E402

OUT = REPO / "docs" / "screenshots"
RUNS = ({"model": "mlp", "hidden_sizes": "256,128", "epochs": 2}, {})  # the MLP, then the defaults
SWEEP = {"vary": list(DEFAULT_VARY), "fixed": "model=cnn,train_size=5000", "trials": 12, "study": "cnn5k"}
PAGES = {  # suffix: viewport
    "": {"width": 1280, "height": 900},
    "-phone": {"width": 390, "height": 844},
}
SCHEMES = {"": "light", "-dark": "dark"}
WAIT = 120_000
# Stops the charts' and the progress bars' transitions, so a shot never catches them half-way.
STILL_CSS = "*, *::before, *::after { transition: none !important; animation: none !important; }"


def train(client: Client, values: dict) -> str:
    """Start a run through the `train` API and wait for it to finish; its name."""
    client.predict(**values, api_name="/train")
    while (status := client.predict(api_name="/status"))["status"] in ("queued", "starting", "running", "stopping"):
        time.sleep(1)
    assert status["status"] == "done", status
    return status["run"]


def sweep(client: Client) -> None:
    """Run SWEEP through the `sweep` API and wait for it to finish."""
    client.predict(**SWEEP, api_name="/sweep")
    while (status := client.predict(api_name="/sweep_status"))["status"] in (
        "queued",
        "starting",
        "running",
        "stopping",
    ):
        time.sleep(1)
    assert status["status"] == "done", status


def open_tab(page, name: str) -> None:
    """Click the tab `name`; a phone's tab bar lists the last tabs in its overflow menu."""
    expect(page.get_by_role("tab", name="Draw")).to_be_visible(timeout=WAIT)
    button = page.get_by_role("tab", name=name)
    if not button.is_visible():
        page.locator(".overflow-menu button").first.click()
        button = page.locator(".overflow-dropdown button", has_text=name)
    button.click()


def plots_drawn(page, *ids: str) -> None:
    for elem_id in ids:
        expect(page.locator(f"#{elem_id} .js-plotly-plot .main-svg").first).to_be_visible(timeout=WAIT)


def show_draw(page, names: list[str]) -> None:
    wait_until_drawable(page)
    mouse_stroke(page, SEVEN, dx=-0.45)
    mouse_stroke(page, ONE, dx=0.45)
    expect(page.locator("#draw-result .number")).to_have_text("71", timeout=WAIT)
    page.wait_for_function("() => !window.drawPad.busy()", timeout=WAIT)


def show_not_a_digit(page, names: list[str]) -> None:
    """A cat drawn on the Draw tab: "not a digit", with the digit it looks most like (issue 21). Held-out
    strokes (tests/support/nondigits_held.py): the bundled model never trained on a cat."""
    open_tab(page, "Draw")
    wait_until_drawable(page)
    clear(page)
    for stroke in held_strokes("cat"):
        mouse_stroke(page, stroke, steps=4)
    expect(page.locator("#draw-result .number")).to_have_text("not a digit", timeout=WAIT)
    page.wait_for_function("() => !window.drawPad.busy()", timeout=WAIT)
    expect(page.locator("#draw-result .hint.refusal")).to_contain_text("closest is", timeout=WAIT)


def show_inside_refused(page, names: list[str]) -> None:
    """The cat of `not-a-digit` explained through "Explain this": why it was refused (the score against the
    threshold, how far the nearest training digits are), attribution for its closest digit."""
    show_not_a_digit(page, names)
    page.locator("#explain-this").click()
    expect(page.locator("#inside-info")).to_contain_text("Not a digit", timeout=WAIT)
    expect(page.locator("#inside-info")).to_contain_text("nearest training digit", timeout=WAIT)  # the index
    expect(page.locator("#inside-near img")).to_have_count(8, timeout=WAIT)
    page.mouse.move(0, 0)


def show_inside(page, names: list[str]) -> None:
    """The Draw tab's "71" explained through "Explain this": the number's picker, its 7, the map by itself."""
    open_tab(page, "Draw")
    if page.evaluate("() => !window.drawPad?.image()"):
        show_draw(page, names)
    page.locator("#explain-this").click()
    expect(page.locator("#inside-info")).to_contain_text("Reads the number 71", timeout=WAIT)
    expect(page.locator("#inside-map .js-plotly-plot")).to_be_visible(timeout=WAIT)  # once built, by itself
    expect(page.locator("#inside-near img")).to_have_count(8, timeout=WAIT)
    page.mouse.move(0, 0)  # the click left the pointer over a neighbour, which it would show hovered


def show_train(page, names: list[str]) -> None:
    open_tab(page, "Train")
    expect(page.locator("#estimate")).to_contain_text("steps", timeout=WAIT)


def show_sweep(page, names: list[str]) -> None:
    open_tab(page, "Sweep")
    plots_drawn(page, "sweep-history", "sweep-parallel", "sweep-importance")
    expect(page.locator("#sweep-trials-table")).to_contain_text("complete", timeout=WAIT)


def show_curves(page, names: list[str]) -> None:
    open_tab(page, "Curves")
    overlay = page.get_by_label("Compare with past runs")
    for name in names:
        overlay.click()
        page.get_by_role("option", name=name, exact=True).click()
    page.keyboard.press("Escape")
    legend = "(n) => document.querySelectorAll('#epoch-loss-plot .legend .traces').length >= n"
    page.wait_for_function(legend, arg=len(names), timeout=WAIT)  # each run overlaid (the latest is also live)
    plots_drawn(page, "step-plot", "epoch-loss-plot", "epoch-accuracy-plot")


def show_evaluate(page, names: list[str]) -> None:
    open_tab(page, "Evaluate")
    plots_drawn(page, "confusion")
    expect(page.get_by_text("misclassified").first).to_be_visible(timeout=WAIT)


def show_data(page, names: list[str]) -> None:
    open_tab(page, "Data")
    expect(page.get_by_text("#0: label 5")).to_be_visible(timeout=WAIT)


def show_runs(page, names: list[str]) -> None:
    open_tab(page, "Runs")
    expect(page.locator("#runs-table")).to_contain_text(names[-1], timeout=WAIT)


TABS: dict[str, Callable] = {
    "draw": show_draw,
    "inside": show_inside,
    "train": show_train,
    "sweep": show_sweep,
    "curves": show_curves,
    "evaluate": show_evaluate,
    "data": show_data,
    "runs": show_runs,
    "not-a-digit": show_not_a_digit,  # last: it leaves a cat on the pad, where Inside explains the drawing
    "inside-not-a-digit": show_inside_refused,
}


def shoot(page, name: str) -> None:
    """Save the whole page as docs/screenshots/<name>.png, once its fonts are in and no toast is left."""
    page.evaluate("document.fonts.ready")
    for toast in page.locator(".toast-wrap").all():
        if toast.is_visible():
            print(f"  {name}: a toast was on the page: {toast.inner_text()!r} (hidden for the shot)")
    page.add_style_tag(content=".toast-wrap { display: none !important; }")
    page.wait_for_timeout(300)  # one more layout and paint after the last answer
    page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)
    print("wrote", OUT / f"{name}.png", flush=True)


def main(tabs: list[str]) -> None:
    unknown = set(tabs) - set(TABS)
    if unknown:
        raise SystemExit(f"unknown tab(s) {', '.join(sorted(unknown))}; choose from {', '.join(TABS)}")
    OUT.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with AppServer() as server, sync_playwright() as p:
        client = Client(server.url, verbose=False)
        # The sweep first, so that the Runs table lists the two runs on top of the sweep's trials.
        sweep(client)
        names = ["default (bundled)", *(train(client, values) for values in RUNS)]
        print(f"sweep and runs ready after {time.perf_counter() - started:.0f} s", flush=True)
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        for size, viewport in PAGES.items():
            for theme, scheme in SCHEMES.items():
                context = browser.new_context(viewport=viewport, color_scheme=scheme)
                page = context.new_page()
                page.goto(server.url)
                page.add_style_tag(content=STILL_CSS)
                for tab in tabs or TABS:
                    TABS[tab](page, names)
                    shoot(page, f"{tab}{size}{theme}")
                    page.evaluate("window.scrollTo(0, 0)")
                context.close()
        browser.close()
    print(f"done in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
