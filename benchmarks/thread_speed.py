"""The engine's speed in the main thread against a worker thread (as the app runs it).

python benchmarks/thread_speed.py
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mnist_core.config import TrainConfig  # noqa: E402
from mnist_core.data import load_mnist  # noqa: E402
from mnist_core.train import train  # noqa: E402


def main() -> None:
    data = load_mnist(log=lambda m: None)

    def run(where: str) -> None:
        print(f"{where}: {train(TrainConfig(seed=0), data).metrics['train_seconds']:.2f} s of training", flush=True)

    for label in ("worker thread (first)", "worker thread (second)"):
        worker = threading.Thread(target=run, args=(label,))
        worker.start()
        worker.join()
    run("main thread")


if __name__ == "__main__":
    main()
