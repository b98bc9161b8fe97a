"""Draw tab latency: pen-up to the answer on screen, in headless Chromium driving the real page.

Mouse strokes on a desktop page (1280x900) and finger strokes (CDP Input.dispatchTouchEvent) on a
phone-sized touch page (390x844, has_touch, is_mobile, device scale 1). Each stroke draws a 7 or a 1
(alternating, after Clear); the time runs from the page's pointerup to the frame where the answer
shows the digit, both on the page's own clock. Breakdown for the current page (its canvas sends the
drawing to the server function read_drawing): server handler time, the rest of the round trip
(network, HTTP, JSON), PNG encoding and rendering in the browser. For the old Sketchpad page
(`--before DIR`, a checkout of an older commit): upload and queue-join request times.

    python -m benchmarks.draw_latency --strokes 15
    git archive 7e04bc1 | (mkdir -p /tmp/before && tar -x -C /tmp/before)
    python -m benchmarks.draw_latency --strokes 15 --before /tmp/before   # interleaved before/after

Both apps run at once and the rounds alternate (old desktop, new desktop, old phone, new phone), so
the shared machine's load drifts over both alike. Prints a table and writes JSON (--out).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from tests.support import strokes as draw
from tests.support.server import CHROMIUM, CHROMIUM_ARGS, AppServer

REPO = Path(__file__).resolve().parents[1]

DESKTOP = dict(viewport={"width": 1280, "height": 900})
PHONE = dict(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True, device_scale_factor=1)
DIGITS = (("7", draw.SEVEN), ("1", draw.ONE))

# Records the page-clock time when the label first reads `text` (checked on every DOM change); empties
# the resource-timing buffer (250 entries: the page's 1 s poll fills it) so this stroke's requests show.
ARM_OLD_LABEL = """([sel, text]) => { window.labelAt = null; performance.clearResourceTimings(); const seen = () => {
    if (window.labelAt === null && document.querySelector(sel)?.textContent.trim() === text) {
      window.labelAt = performance.now(); obs.disconnect(); } };
  const obs = new MutationObserver(seen);
  obs.observe(document.body, {subtree: true, childList: true, characterData: true}); seen(); }"""
# The current page's record (draw_pad.js) of the request sent at the last pen-up, once shown.
PEN_UP_ANSWER = """(after) => (window.drawPadTimings || []).find((t) => t.penUp && t.start >= after && t.shown)"""
OLD_REQUESTS = """(after) => performance.getEntriesByType('resource').filter((e) => e.startTime >= after)
  .map((e) => ({name: e.name, start: e.startTime, end: e.responseEnd}))"""


class Page:
    """One browser page of one app (old Sketchpad or current canvas), desktop or phone."""

    def __init__(self, browser, url: str, device: str) -> None:
        self.device = device
        self.context = browser.new_context(**(PHONE if device == "phone" else DESKTOP))
        self.page = self.context.new_page()
        self.page.goto(url)
        self.cdp = self.context.new_cdp_session(self.page) if device == "phone" else None
        self.selector = draw.wait_until_drawable(self.page)
        self.old = self.selector == draw.OLD_CANVAS
        if self.old:  # the old page selects the brush by itself once loaded
            self.page.get_by_text("select the draw tool to start").wait_for(state="hidden", timeout=30_000)

    def stroke(self, path, dx: float = 0.0) -> None:
        if self.cdp is not None:
            draw.touch_stroke(self.cdp, self.page, path, dx)
        else:
            draw.mouse_stroke(self.page, path, dx)

    def clear(self) -> None:
        if self.old:
            self.page.locator('#sketchpad button[aria-label="Clear canvas"]').click()
            self.page.wait_for_function(
                "(sel) => document.querySelector(sel)?.textContent.trim() === 'no digit'", arg=draw.OLD_LABEL
            )
        else:
            draw.clear(self.page)

    def measure(self, digit: str, path) -> dict:
        """Clear, draw `digit`, and time pen-up to the answer showing it."""
        self.clear()
        if self.old:
            self.page.evaluate(ARM_OLD_LABEL, [draw.OLD_LABEL, digit])
        ups = self.page.evaluate("window.penUps.length")
        self.stroke(path)
        self.page.wait_for_function("(n) => window.penUps.length > n", arg=ups)
        pen_up = self.page.evaluate("window.penUps[window.penUps.length - 1]")
        if self.old:
            self.page.wait_for_function("() => window.labelAt !== null", timeout=60_000, polling=50)
            shown = self.page.evaluate("window.labelAt")
            requests = self.page.evaluate(OLD_REQUESTS, pen_up)
            row = {"total_ms": shown - pen_up, "read": digit}
            for kind in ("upload", "queue/join"):
                spans = [r for r in requests if kind in r["name"]]
                if spans:
                    row[kind.replace("queue/", "") + "_ms"] = spans[0]["end"] - spans[0]["start"]
                    row[kind.replace("queue/", "") + "_starts_after_ms"] = spans[0]["start"] - pen_up
            return row
        answer = self.page.wait_for_function(PEN_UP_ANSWER, arg=pen_up, timeout=60_000, polling=50).json_value()
        server = answer.get("server_ms") or 0.0
        return {
            "total_ms": answer["shown"] - pen_up,
            "read": answer.get("number"),
            "server_ms": server,
            "round_trip_rest_ms": answer["received"] - answer["encoded"] - server,
            "encode_ms": answer["encoded"] - answer["start"],
            "render_ms": answer["shown"] - answer["received"],
            "before_send_ms": answer["start"] - pen_up,
        }


def summarise(rows: list[dict]) -> dict:
    """p50/p95 of the total and the median of each part, plus how many strokes read right."""
    out = {"n": len(rows), "right": sum(r["read"] == r["digit"] for r in rows)}
    total = np.array([r["total_ms"] for r in rows])
    out["p50_ms"], out["p95_ms"] = round(float(np.percentile(total, 50)), 1), round(float(np.percentile(total, 95)), 1)
    for key in sorted({k for r in rows for k in r if k.endswith("_ms") and k != "total_ms"}):
        values = [r[key] for r in rows if key in r]
        out[f"median_{key}"] = round(statistics.median(values), 1)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--strokes", type=int, default=15, help="measured strokes per page (after one warm-up)")
    parser.add_argument("--before", type=Path, help="a checkout of an older commit to measure alongside")
    parser.add_argument("--devices", default="desktop,phone")
    parser.add_argument("--out", type=Path, default=REPO / "artifacts" / "draw_latency.json")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    apps = {"after": AppServer()}
    if args.before:
        apps = {"before": AppServer(app_dir=args.before), **apps}
    devices = args.devices.split(",")
    rows: dict[str, list[dict]] = {f"{v}/{d}": [] for v in apps for d in devices}
    started = time.time()
    try:
        for app in apps.values():
            app.start()
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            pages = {f"{v}/{d}": Page(browser, app.url, d) for v, app in apps.items() for d in devices}
            for page in pages.values():  # warm-up: the first answer loads the model
                page.measure("7", draw.SEVEN)
            for k in range(args.strokes):
                digit, path = DIGITS[k % 2]
                for name in [f"{v}/{d}" for d in devices for v in apps]:  # interleaved
                    row = pages[name].measure(digit, path)
                    rows[name].append({**row, "digit": digit})
            browser.close()
    finally:
        for app in apps.values():
            app.stop()
    result = {
        "strokes": args.strokes,
        "seconds": round(time.time() - started, 1),
        "load_average": os.getloadavg(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "summary": {name: summarise(r) for name, r in rows.items()},
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"load average {result['load_average'][0]:.1f} on {result['cpus']} CPUs; {args.strokes} strokes per page")
    for name, s in result["summary"].items():
        parts = ", ".join(f"{k[7:-3]} {v:.0f}" for k, v in s.items() if k.startswith("median_"))
        print(
            f"{name:16s} p50 {s['p50_ms']:7.0f} ms  p95 {s['p95_ms']:7.0f} ms  read right {s['right']}/{s['n']}  ({parts})"
        )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
