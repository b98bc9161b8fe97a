"""From Start to the first point of the new run's loss curve on the page, as a person sees it.

Starts the app (`python app.py`, a fresh checkpoint folder) and headless Chromium, waits for the
server's warm-up, then per run: presses Start on the Train tab (default recipe), opens the Curves
tab and times, in the page's own clock, until the "Loss per step" chart has a trace with points
that it did not have before Start (the new run's). Each run is waited out before the next. The first run is the first the server's training
process ever sees.

    python benchmarks/first_point.py --runs 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.server import CHROMIUM, CHROMIUM_ARGS, AppServer  # noqa: E402

# The step chart's traces that have points, by name (one trace per run).
TRACES_JS = """() => {
  const plot = document.querySelector('#step-plot .js-plotly-plot');
  return plot && plot.data ? plot.data.filter(t => t.x && t.x.length).map(t => t.name) : [];
}"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--settle", type=float, default=20.0, help="seconds for the server's warm-up after the page")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with AppServer() as server, sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = chromium.new_page(viewport={"width": 1280, "height": 900})
        page.goto(server.url)
        page.locator("#draw-pad canvas").first.wait_for(timeout=120_000)
        time.sleep(args.settle)  # as a person reads the page: the warm-up (training process, data) runs meanwhile
        seconds = []
        for run in range(args.runs):
            page.get_by_role("tab", name="Curves").click()
            before = page.evaluate(TRACES_JS)
            page.get_by_role("tab", name="Train").click()
            page.locator("#start").click()
            started = page.evaluate("() => performance.now()")
            page.get_by_role("tab", name="Curves").click()
            new_trace = f"() => ({TRACES_JS})().some(name => !{before!r}.includes(name))"
            try:
                page.wait_for_function(new_trace, timeout=120_000, polling=10)
            except Exception as exc:
                status = page.locator("#train-status").inner_text()
                seen = page.evaluate(TRACES_JS)
                raise SystemExit(f"no new curve: traces {seen}, before {before}, status {status!r}") from exc
            seconds.append((page.evaluate("() => performance.now()") - started) / 1000)
            print(f"run {run + 1}: first curve point {seconds[-1]:.2f} s after Start", flush=True)
            page.get_by_role("tab", name="Train").click()
            page.wait_for_function(
                "() => ['done', 'stopped', 'failed'].includes("
                "document.querySelector('#train-progress')?.dataset.status)",
                timeout=300_000,
            )
        chromium.close()
    print(f"median {statistics.median(seconds):.2f} s over {len(seconds)} runs; first run {seconds[0]:.2f} s")


if __name__ == "__main__":
    main()
