"""A candidate for the default cnn, measured against it: the second conv with stride 2 (12x12 -> 5x5)
instead of conv + 2x2 max-pool, a quarter of its multiply-adds. Default recipe otherwise; one epoch
per seed, the two interleaved in one process (data resident); training seconds and test accuracy.

    python benchmarks/cnn_strided.py --seeds 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import mnist_core.models as models  # noqa: E402
from mnist_core.config import TrainConfig  # noqa: E402
from mnist_core.data import load_mnist  # noqa: E402
from mnist_core.train import train  # noqa: E402


def strided(cfg: TrainConfig) -> nn.Sequential:
    return nn.Sequential(
        models.Normalize(),
        nn.Conv2d(1, 16, 5, stride=2, bias=not cfg.batch_norm),  # 12x12
        *models._norm_act(cfg, 16),
        nn.Conv2d(16, 32, 3, stride=2, bias=not cfg.batch_norm),  # 5x5, no pool
        *models._norm_act(cfg, 32),
        nn.Flatten(),
        nn.Linear(32 * 5 * 5, 256, bias=not cfg.batch_norm),
        *models._norm_act(cfg, 256, conv=False),
        nn.Dropout(cfg.dropout),
        nn.Linear(256, 10),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    data = load_mnist(log=lambda _msg: None)
    variants = {"default cnn": models.BUILDERS["cnn"], "strided conv": strided}
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
    for seed in range(args.seeds):
        for name, build in variants.items():
            models.BUILDERS["cnn"] = build
            metrics = train(TrainConfig(seed=seed), data).metrics
            results[name].append((metrics["train_seconds"], metrics["test_accuracy"]))
            print(
                f"{name:13s} seed {seed}: {metrics['train_seconds']:.2f} s, {metrics['test_accuracy']:.2%}", flush=True
            )
    for name, runs in results.items():
        seconds = statistics.median(s for s, _ in runs)
        print(f"{name:13s} median {seconds:.2f} s; accuracies {', '.join(f'{a:.2%}' for _, a in runs)}")


if __name__ == "__main__":
    main()
