"""Cost of the live UI on training speed: the same default run through the app, with a browser
on the Curves tab (refreshing every second), against the engine alone in this process.

    python benchmarks/ui_overhead.py --seeds 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from load_test import CHROMIUM, CHROMIUM_ARGS, AppServer  # noqa: E402

from mnist_core.config import TrainConfig  # noqa: E402
from mnist_core.data import load_mnist  # noqa: E402
from mnist_core.train import train  # noqa: E402


def engine_seconds(seed: int) -> float:
    return train(TrainConfig(seed=seed), load_mnist(log=lambda m: None)).metrics["train_seconds"]


def app_seconds(seed: int, browser: bool) -> float:
    """Start the run through the API (optionally with a browser on the Curves tab); its train seconds."""
    from gradio_client import Client
    from playwright.sync_api import sync_playwright

    with AppServer() as server, sync_playwright() as p:
        page = None
        if browser:
            chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = chromium.new_page()
            page.goto(server.url)
            page.get_by_role("tab", name="Curves").click()
        client = Client(server.url, verbose=False)
        # Let the app's start-up warm-up (loading MNIST and the default model) finish first: a
        # visitor does not start a run in the first seconds of the server's life.
        client.predict(api_name="/random_digit")
        client.predict(seed=seed, api_name="/train")
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            status = client.predict(api_name="/status")
            if status["status"] in ("done", "stopped", "failed"):
                break
            time.sleep(0.5)  # a benchmark's polling interval, not test synchronisation
        return status["metrics"]["train_seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--browser", action="store_true", help="also open the page (Chromium on this machine)")
    args = parser.parse_args()
    engine = [engine_seconds(s) for s in range(args.seeds)]
    app = [app_seconds(s, args.browser) for s in range(args.seeds)]
    e, a = statistics.median(engine), statistics.median(app)
    print(f"engine alone: {engine} median {e:.2f} s")
    print(f"through the app{' with a live browser' if args.browser else ''}: {app} median {a:.2f} s")
    print(f"UI overhead: {100 * (a - e) / e:+.1f}% (target <= 10%)")


if __name__ == "__main__":
    main()
