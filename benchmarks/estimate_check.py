"""How close the Train tab's estimate is: the probe's expected training seconds, then a real run.

Each preset below is probed (cache cleared) and then trained on 10,000 images in the same
process, interleaved, so both see the same machine load. Usage:

    MNIST_DATA_DIR=data python benchmarks/estimate_check.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mnist_core.data import load_mnist_cached  # noqa: E402
from mnist_core.estimate import estimate, probe_speed  # noqa: E402
from mnist_core.presets import PRESETS  # noqa: E402
from mnist_core.train import train  # noqa: E402

CASES = [("cnn_fast", {}), ("mlp_adam", {"epochs": 1}), ("cnn_fast", {}), ("mlp_adam", {"epochs": 1})]


def main() -> None:
    data = load_mnist_cached(log=lambda message: None)
    for name, extra in CASES:
        cfg = PRESETS[name].config().replace(train_size=10_000, **extra)
        probe_speed.cache_clear()
        guess = estimate(cfg)
        result = train(cfg, data)
        print(
            f"{name}: probe {guess.samples_per_sec:,.0f} img/s -> {guess.seconds:.1f} s estimated; "
            f"trained {result.metrics['train_seconds']:.1f} s",
            flush=True,
        )


if __name__ == "__main__":
    main()
