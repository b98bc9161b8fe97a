"""The app as a person meets it: start to first page, Start to the first curve point, the live UI's cost.

- `start`: per round, time a bare `import gradio` in a fresh interpreter, then start `python app.py`
  (AppServer: a fresh checkpoint folder, a free port) and time until `GET /` has answered.
- `first-point`: the app and headless Chromium; after the server's warm-up (--settle), per run:
  press Start on the Train tab (default recipe), open the Curves tab and time, on the page's own
  clock, until the "Loss per step" chart has a trace with points it did not have before Start. Each
  run is waited out before the next; the first is the first the server's training process sees.
- `overhead`: the same default runs through the app's `train` API (status polled every 2 s, with
  --browser a page open on the Curves tab) against `train()` in this process, with no server
  running and beside the idle app; interleaved, one warm-up each not counted.

    python -m benchmarks.app_timing start --rounds 5
    python -m benchmarks.app_timing first-point --runs 5
    python -m benchmarks.app_timing overhead --seeds 7 [--browser] [--epochs N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
import urllib.request

from tests.support.server import CHROMIUM, CHROMIUM_ARGS, AppServer

IMPORT_GRADIO = "import time; t = time.perf_counter(); import gradio; print(time.perf_counter() - t)"

# The step chart's traces that have points, by name (one trace per run).
TRACES_JS = """() => {
  const plot = document.querySelector('#step-plot .js-plotly-plot');
  return plot && plot.data ? plot.data.filter(t => t.x && t.x.length).map(t => t.name) : [];
}"""


def app_start(rounds: int) -> None:
    """`python app.py` to its first page, beside a bare `import gradio` in a fresh interpreter."""
    pages, imports = [], []
    for _ in range(rounds):
        out = subprocess.run([sys.executable, "-c", IMPORT_GRADIO], capture_output=True, text=True, check=True)
        imports.append(float(out.stdout.strip()))
        started = time.perf_counter()
        with AppServer() as app:
            urllib.request.urlopen(app.url, timeout=60).read()
            pages.append(time.perf_counter() - started)
        print(f"first page {pages[-1]:.2f} s; import gradio alone {imports[-1]:.2f} s", flush=True)
    print(f"median: first page {statistics.median(pages):.2f} s, import gradio {statistics.median(imports):.2f} s")


def first_point(runs: int, settle: float) -> None:
    """Start pressed in the page to the new run's first point on the Curves tab, in the page's clock."""
    from playwright.sync_api import sync_playwright

    with AppServer() as server, sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = chromium.new_page(viewport={"width": 1280, "height": 900})
        page.goto(server.url)
        page.locator("#draw-pad canvas").first.wait_for(timeout=120_000)
        time.sleep(settle)  # as a person reads the page: the warm-up (training process, data) runs meanwhile
        seconds = []
        for run in range(runs):
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


def engine_seconds(seed: int, epochs: int, data) -> float:
    """Training seconds of the default recipe run by `train()` in this process."""
    from mnist_core.config import TrainConfig
    from mnist_core.train import train

    return train(TrainConfig(seed=seed, epochs=epochs), data).metrics["train_seconds"]


def app_run(client, seed: int, epochs: int) -> float:
    """One default run started through the API; its training seconds as the engine in the app measured them."""
    client.predict(seed=seed, epochs=epochs, api_name="/train")
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        status = client.predict(api_name="/status")
        if status["status"] in ("done", "stopped", "failed"):
            break
        time.sleep(2)  # a benchmark's polling interval, not test synchronisation
    if status["status"] != "done":
        raise SystemExit(f"the run through the app ended {status['status']}: {status['message']}")
    return status["metrics"]["train_seconds"]


def ui_overhead(seeds: int, epochs: int, browser: bool) -> None:
    """The live UI's cost on training speed: runs through the app against the engine alone."""
    from gradio_client import Client
    from playwright.sync_api import sync_playwright

    from mnist_core.allocator import keep_freed_memory
    from mnist_core.data import load_mnist

    keep_freed_memory()  # the engine here as in the app's training process (allocator.py)
    data = load_mnist(log=lambda m: None)
    engine_seconds(99, epochs, data)  # warm-up
    quiet = [engine_seconds(seed, epochs, data) for seed in range(seeds)]
    print(f"engine alone, no server running: {quiet}", flush=True)
    engine, app = [], []
    with AppServer() as server, sync_playwright() as p:
        if browser:
            chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = chromium.new_page()
            page.goto(server.url)
            page.get_by_role("tab", name="Curves").click()
        client = Client(server.url, verbose=False)
        client.predict(api_name="/random_digit")  # the app's start-up warm-up has finished
        # One warm-up run each (first-run costs: allocator, oneDNN kernels), then interleaved rounds,
        # so that the noise of a shared machine falls on both sides alike.
        try:
            warm = engine_seconds(99, epochs, data), app_run(client, 99, epochs)
            print(f"warm-up runs (not counted): engine {warm[0]:.2f} s, app {warm[1]:.2f} s", flush=True)
            for seed in range(seeds):
                engine.append(engine_seconds(seed, epochs, data))
                app.append(app_run(client, seed, epochs))
                print(f"seed {seed}: engine {engine[-1]:.2f} s, app {app[-1]:.2f} s", flush=True)
        except Exception:
            # The client only says "the app raised": the server's log says what.
            print("server log before the failure:\n" + server.output()[-6000:], file=sys.stderr)
            raise
    q, e, a = statistics.median(quiet), statistics.median(engine), statistics.median(app)
    page_note = " and page" if browser else ""
    print(f"engine alone, no server running: median {q:.2f} s")
    print(f"engine alone beside the idle app{page_note}: median {e:.2f} s ({100 * (e - q) / q:+.1f}%)")
    print(f"through the app{' with a live browser on the Curves tab' if browser else ''}: median {a:.2f} s")
    print(
        f"UI overhead: {100 * (a - e) / e:+.1f}% against the engine beside the idle app (target <= 10%); "
        f"{100 * (a - q) / q:+.1f}% against no server at all"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.app_timing", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("start", help="python app.py to its first page, beside a bare import gradio")
    start.add_argument("--rounds", type=int, default=3)
    point = commands.add_parser("first-point", help="Start to the first curve point in a real page")
    point.add_argument("--runs", type=int, default=3)
    point.add_argument("--settle", type=float, default=20.0, help="seconds for the server's warm-up after the page")
    overhead = commands.add_parser("overhead", help="the live UI's cost on training speed")
    overhead.add_argument("--seeds", type=int, default=3)
    overhead.add_argument("--epochs", type=int, default=1, help="epochs per run (default recipe otherwise)")
    overhead.add_argument("--browser", action="store_true", help="also open the page (Chromium on this machine)")
    args = parser.parse_args(argv)
    if args.command == "start":
        app_start(args.rounds)
    elif args.command == "first-point":
        first_point(args.runs, args.settle)
    else:
        ui_overhead(args.seeds, args.epochs, args.browser)


if __name__ == "__main__":
    main()
