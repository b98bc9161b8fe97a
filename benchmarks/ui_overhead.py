"""Cost of the live UI on training speed: the same default runs through the app (optionally with a
browser on the Curves tab, refreshing every second) against the engine in this process, with no
server running and beside the idle app. Results and method: benchmarks/RESULTS.md, last section.

    python benchmarks/ui_overhead.py --seeds 7 [--browser] [--epochs N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from mnist_core.config import TrainConfig  # noqa: E402
from mnist_core.data import load_mnist  # noqa: E402
from mnist_core.train import train  # noqa: E402
from tests.support.server import CHROMIUM, CHROMIUM_ARGS, AppServer  # noqa: E402


def engine_seconds(seed: int, epochs: int, data) -> float:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=1, help="epochs per run (default recipe otherwise)")
    parser.add_argument("--browser", action="store_true", help="also open the page (Chromium on this machine)")
    args = parser.parse_args()
    from gradio_client import Client
    from playwright.sync_api import sync_playwright

    data = load_mnist(log=lambda m: None)
    engine_seconds(99, args.epochs, data)  # warm-up
    quiet = [engine_seconds(seed, args.epochs, data) for seed in range(args.seeds)]
    print(f"engine alone, no server running: {quiet}", flush=True)
    engine, app = [], []
    with AppServer() as server, sync_playwright() as p:
        if args.browser:
            chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = chromium.new_page()
            page.goto(server.url)
            page.get_by_role("tab", name="Curves").click()
        client = Client(server.url, verbose=False)
        client.predict(api_name="/random_digit")  # the app's start-up warm-up has finished
        # One warm-up run each (first-run costs: allocator, oneDNN kernels), then interleaved rounds,
        # so that the noise of a shared machine falls on both sides alike.
        try:
            warm = engine_seconds(99, args.epochs, data), app_run(client, 99, args.epochs)
            print(f"warm-up runs (not counted): engine {warm[0]:.2f} s, app {warm[1]:.2f} s", flush=True)
            for seed in range(args.seeds):
                engine.append(engine_seconds(seed, args.epochs, data))
                app.append(app_run(client, seed, args.epochs))
                print(f"seed {seed}: engine {engine[-1]:.2f} s, app {app[-1]:.2f} s", flush=True)
        except Exception:
            # The client only says "the app raised": the server's log says what.
            print("server log before the failure:\n" + server.output()[-6000:], file=sys.stderr)
            raise
    q, e, a = statistics.median(quiet), statistics.median(engine), statistics.median(app)
    print(f"engine alone, no server running: median {q:.2f} s")
    print(
        f"engine alone beside the idle app{' and page' if args.browser else ''}: median {e:.2f} s ({100 * (e - q) / q:+.1f}%)"
    )
    print(f"through the app{' with a live browser on the Curves tab' if args.browser else ''}: median {a:.2f} s")
    print(
        f"UI overhead: {100 * (a - e) / e:+.1f}% against the engine beside the idle app (target <= 10%); "
        f"{100 * (a - q) / q:+.1f}% against no server at all"
    )


if __name__ == "__main__":
    main()
