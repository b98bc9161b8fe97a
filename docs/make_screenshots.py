"""Regenerate docs/screenshots/ from a clean page showing real runs (not part of the tests).

Starts `python app.py` with an empty checkpoint folder, runs a 20-trial sweep of the CNN on 10,000
images and trains through the API a full-data 2-epoch MLP and the default CNN, then opens every tab
in Debian's chromium and saves a screenshot of each:

    python docs/make_screenshots.py            # about 6 minutes on 2 CPU cores
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gradio_client import Client  # noqa: E402
from playwright.sync_api import expect, sync_playwright  # noqa: E402

from mnist_core.search_space import DEFAULT_VARY  # noqa: E402
from tests.support.inside_page import ask_until_the_map_shows  # noqa: E402
from tests.support.server import CHROMIUM, CHROMIUM_ARGS, AppServer  # noqa: E402
from tests.support.strokes import ONE, SEVEN, mouse_stroke, wait_until_drawable  # noqa: E402

OUT = REPO / "docs" / "screenshots"
RUNS = ({"model": "mlp", "hidden_sizes": "256,128", "epochs": 2}, {})  # the MLP, then the defaults
SWEEP = {"vary": list(DEFAULT_VARY), "fixed": "model=cnn,train_size=10000", "trials": 20, "study": "cnn10k"}


def train(client: Client, values: dict) -> str:
    """Start a run through the `train` API and wait for it to finish; its name."""
    client.predict(**values, api_name="/train")
    while (status := client.predict(api_name="/status"))["status"] in ("starting", "running", "stopping"):
        time.sleep(1)
    assert status["status"] == "done", status
    return status["run"]


def sweep(client: Client) -> None:
    """Run SWEEP through the `sweep` API and wait for it to finish."""
    client.predict(**SWEEP, api_name="/sweep")
    while (status := client.predict(api_name="/sweep_status"))["status"] in ("starting", "running", "stopping"):
        time.sleep(1)
    assert status["status"] == "done", status


def shoot(page, name: str) -> None:
    time.sleep(1.5)  # let charts finish their transitions
    page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)
    print("wrote", OUT / f"{name}.png")


def main() -> None:
    with AppServer() as server, sync_playwright() as p:
        client = Client(server.url, verbose=False)
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        # The sweep first (the Sweep tab shows the server's latest job while it is a sweep), so that the
        # Runs table then lists the two runs on top of the sweep's trials.
        sweep(client)
        page.goto(server.url)
        page.get_by_role("tab", name="Sweep").click()
        expect(page.locator("#sweep-importance .js-plotly-plot")).to_be_visible(timeout=60_000)
        shoot(page, "sweep")
        names = [train(client, values) for values in RUNS]
        page.goto(server.url)
        wait_until_drawable(page)
        mouse_stroke(page, SEVEN, dx=-0.45)
        mouse_stroke(page, ONE, dx=0.45)
        expect(page.locator("#draw-result .number")).to_have_text("71", timeout=60_000)
        shoot(page, "draw")

        page.get_by_role("tab", name="Inside").click()
        ask_until_the_map_shows(page)  # the test-set map is built in the background the first time
        expect(page.locator("#inside-near img").first).to_be_visible(timeout=300_000)
        shoot(page, "inside")

        page.get_by_role("tab", name="Curves").click()
        overlay = page.get_by_label("Compare with past runs")
        for name in names:
            overlay.click()
            page.get_by_role("option", name=name).click()
        page.keyboard.press("Escape")
        expect(page.locator("#step-plot .js-plotly-plot")).to_be_visible(timeout=60_000)
        shoot(page, "curves")

        page.get_by_role("tab", name="Evaluate").click()
        expect(page.locator("#confusion .js-plotly-plot")).to_be_visible(timeout=120_000)
        shoot(page, "evaluate")

        page.get_by_role("tab", name="Data").click()
        expect(page.get_by_text("#0: label 5")).to_be_visible(timeout=60_000)
        shoot(page, "data")

        page.get_by_role("tab", name="Runs").click()
        expect(page.locator("#runs-table")).to_contain_text(names[-1], timeout=60_000)
        shoot(page, "runs")
        browser.close()


if __name__ == "__main__":
    main()
