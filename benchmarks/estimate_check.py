"""How close the Train tab's estimate is: the probe's expected training seconds, then a real run.

Each preset is probed (cache cleared) and then trained for one epoch on --train-size images in the
same process, the presets interleaved for --rounds rounds, so both see the same machine load.

    python -m benchmarks.estimate_check
    python -m benchmarks.estimate_check --presets mlp_adam,mlp_classic --rounds 1
"""

from __future__ import annotations

import argparse

from mnist_core.allocator import keep_freed_memory
from mnist_core.data import load_mnist_cached
from mnist_core.estimate import estimate, probe_speed
from mnist_core.presets import PRESETS
from mnist_core.train import train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="cnn_fast,mlp_adam", help=f"comma-separated, of {', '.join(PRESETS)}")
    parser.add_argument("--rounds", type=int, default=2, help="times each preset is probed and trained")
    parser.add_argument("--train-size", type=int, default=10_000, help="training images per run (one epoch)")
    args = parser.parse_args()
    names = args.presets.split(",")
    unknown = [name for name in names if name not in PRESETS]
    if unknown:
        parser.error(f"unknown preset(s) {', '.join(unknown)}; known: {', '.join(PRESETS)}")
    keep_freed_memory()  # as the app's server (the probe) and its training process (the run) do
    data = load_mnist_cached(log=lambda message: None)
    for _ in range(args.rounds):
        for name in names:
            cfg = PRESETS[name].config().replace(train_size=args.train_size, epochs=1)
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
