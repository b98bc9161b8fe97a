"""Drawing on the app's Draw tab in a real browser: mouse strokes and finger strokes (CDP touch events).

Used by tests/test_browser.py and benchmarks/draw_latency.py. Strokes are lists of (x, y) fractions
of the drawing area's height, relative to a centre point (so digits keep their shape on any canvas).
Works on the page's own canvas (#draw-pad) and on the Gradio Sketchpad of older versions (#sketchpad).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

SEVEN = [(-0.3, -0.35), (0.3, -0.35), (-0.05, 0.4)]
ONE = [(0.02, -0.38), (0.0, 0.38)]
FOUR_STEM = [(0.08, -0.4), (0.08, 0.42)]  # an open 4 drawn as two strokes that do not touch
FOUR_ARM = [(-0.15, -0.38), (-0.25, 0.08), (0.18, 0.08)]
PAD_CANVAS = "#draw-pad canvas"
OLD_CANVAS = "#sketchpad canvas"
NUMBER = "#draw-result .number"
OLD_LABEL = "#prediction [data-testid=label-output-value]"

# True once a click at the centre of the canvas reaches it (the page's loading veil is gone).
CANVAS_READY = """(sel) => { const c = document.querySelector(sel); if (!c) return false;
  const r = c.getBoundingClientRect(); if (!r.width) return false;
  return document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2) === c; }"""
# Records the page-clock time of every pointerup (mouse, pen or finger) in window.penUps.
RECORD_PEN_UPS = """() => { if (window.penUps) return; window.penUps = [];
  document.addEventListener('pointerup', () => window.penUps.push(performance.now()), true); }"""


def canvas_selector(page: Any) -> str:
    """The drawing area of this page: our canvas, or the old Sketchpad's top canvas."""
    return PAD_CANVAS if page.locator(PAD_CANVAS).count() else OLD_CANVAS


def wait_until_drawable(page: Any, timeout: float = 60_000) -> str:
    """Wait until the canvas takes input; return its selector."""
    page.wait_for_selector(f"{PAD_CANVAS}, {OLD_CANVAS}", timeout=timeout)
    selector = canvas_selector(page)
    page.locator(selector).first.scroll_into_view_if_needed()
    page.wait_for_function(CANVAS_READY, arg=selector, timeout=timeout, polling=100)
    page.evaluate(RECORD_PEN_UPS)
    return selector


@contextmanager
def drawable_page(browser: Any, url: str, **options: Any) -> Iterator[Any]:
    """A page of the app at `url` in a new browser context (`options`: viewport, touch...), its canvas ready
    to draw on (wait_until_drawable); the context is closed afterwards."""
    context = browser.new_context(**options)
    try:
        page = context.new_page()
        page.goto(url)
        wait_until_drawable(page)
        yield page
    finally:
        context.close()


def points(page: Any, strokes: list[tuple[float, float]], dx: float = 0.0, selector: str | None = None) -> list:
    """Page coordinates of `strokes` centred on the canvas, shifted right by `dx` heights."""
    box = page.locator(selector or canvas_selector(page)).first.bounding_box()
    side = box["height"] * 0.8
    cx, cy = box["x"] + box["width"] / 2 + dx * side, box["y"] + box["height"] / 2
    return [(cx + x * side, cy + y * side) for x, y in strokes]


def mouse_stroke(page: Any, strokes: list[tuple[float, float]], dx: float = 0.0, steps: int = 12) -> None:
    """One continuous mouse stroke (button down at the first point, up at the last)."""
    path = points(page, strokes, dx)
    page.mouse.move(*path[0])
    page.mouse.down()
    for point in path[1:]:
        page.mouse.move(*point, steps=steps)
    page.mouse.up()


def touch_stroke(cdp: Any, page: Any, strokes: list[tuple[float, float]], dx: float = 0.0, steps: int = 12) -> None:
    """One finger stroke through CDP Input.dispatchTouchEvent (the page must have has_touch=True)."""
    path = points(page, strokes, dx)
    x, y = path[0]
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]})
    for nx, ny in path[1:]:
        for k in range(1, steps + 1):
            px, py = x + (nx - x) * k / steps, y + (ny - y) * k / steps
            cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": px, "y": py}]})
        x, y = nx, ny
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


def shown_number(page: Any) -> str:
    """The number the Draw tab shows now ('no digit' when none)."""
    found = page.locator(NUMBER).first
    return found.inner_text().strip() if found.count() else ""


def wait_for_number(page: Any, text: str, timeout: float = 30_000) -> None:
    """Wait (each animation frame) until the Draw tab's answer reads `text`."""
    page.wait_for_function(
        "([sel, text]) => document.querySelector(sel)?.textContent.trim() === text",
        arg=[NUMBER, text],
        polling="raf",
        timeout=timeout,
    )


def clear(page: Any) -> None:
    """Press the canvas's Clear button (the answer goes back to 'no digit' at once)."""
    page.locator("#draw-pad .pad-clear").click()
