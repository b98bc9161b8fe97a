"""End to end: a tiny sweep started from the Sweep tab in headless chromium, its charts, table and best model.

Saves artifacts/sweep.png (the docs' picture of a real sweep comes from docs/make_screenshots.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.browser]

from tests.support.browser import expect  # noqa: E402  (skips this module without chromium)

REPO = Path(__file__).resolve().parent.parent
FIXED = "model=mlp,hidden_sizes=64,train_size=1000,val_size=300,epochs=1"  # the default fields vary


def test_a_tiny_sweep_from_the_page_draws_its_charts_and_makes_the_best_active(start_app, browser, tmp_path):
    app = start_app(checkpoints=tmp_path)
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    try:
        page = context.new_page()
        page.goto(app.url)
        page.get_by_role("tab", name="Sweep").click()
        fixed = page.locator("#sweep-fixed textarea")
        fixed.fill(FIXED)
        trials = page.locator("#sweep-trials input")
        trials.fill("3")
        trials.press("Enter")
        page.locator("#sweep-study textarea").fill("browser")
        page.locator("#sweep-start").click()
        # A refused start shows Gradio's error toast (its message names the field) instead of this.
        expect(page.locator("#sweep-status")).to_contain_text("Started sweep", timeout=60_000)
        expect(page.locator('#sweep-progress[data-status="done"]')).to_be_attached(timeout=600_000)
        expect(page.locator("#sweep-history .scatterlayer .trace").first).to_be_attached(timeout=60_000)
        table = page.locator("#sweep-trials-table")
        expect(table).to_contain_text("complete", timeout=30_000)
        expect(page.locator("#sweep-status")).to_contain_text("Sweep browser finished")
        page.locator("#sweep-best").click()
        picker = page.locator("#model-picker input")
        expect(picker).to_have_value(re.compile(r"^browser-trial\d+$"), timeout=30_000)
        expect(page.locator("#sweep-best-note")).to_contain_text("Active model")  # beside the button (issue 20)
        best = picker.input_value()
        artifacts = REPO / "artifacts"
        artifacts.mkdir(exist_ok=True)
        page.screenshot(path=str(artifacts / "sweep.png"), full_page=True)  # docs/: make_screenshots.py
        page.get_by_role("tab", name="Runs").click()
        expect(page.locator("#runs-table")).to_contain_text("browser #", timeout=30_000)
        page.reload()  # the chosen model is remembered by the browser (issue 20)
        expect(page.locator("#model-picker input")).to_have_value(best, timeout=30_000)
    finally:
        context.close()
    assert not app.tracebacks(), app.output()
