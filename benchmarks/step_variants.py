"""Training-step variants of the default recipe, timed interleaved: seconds per 55,000 images (one
epoch's worth) at 1 and 2 torch threads, on random uint8 batches as `train()` feeds them (the
default autocast, the scheduler stepped). Variants: the default; ReLUs in place; batch 512 at lr 0.06.

    python benchmarks/step_variants.py --rounds 4
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mnist_core.config import TrainConfig  # noqa: E402
from mnist_core.device import precision_autocast  # noqa: E402
from mnist_core.evaluate import as_input  # noqa: E402
from mnist_core.models import build_model  # noqa: E402
from mnist_core.optim import Optimizer, make_schedule  # noqa: E402

VARIANTS = {"default": {}, "inplace ReLU": {"inplace": True}, "batch 512": {"batch_size": 512, "lr": 0.06}}
IMAGES = 55_000


def make_step(inplace: bool = False, **changes):
    """One training step of the default recipe with `changes`; returns (step, batch size)."""
    cfg = TrainConfig(**changes)
    device = torch.device("cpu")
    torch.manual_seed(0)
    model = build_model(cfg)
    for module in model.modules():
        if isinstance(module, nn.ReLU):
            module.inplace = inplace
    optimizer = Optimizer(cfg, model.parameters())
    schedule, done = make_schedule(cfg, 100_000), 0
    images = torch.randint(0, 256, (cfg.batch_size, 28, 28), dtype=torch.uint8)
    labels = torch.randint(0, 10, (cfg.batch_size,))
    autocast = precision_autocast(cfg.precision, device)

    def step() -> None:
        with autocast:
            logits = model(as_input(images, device))
        loss = F.cross_entropy(logits.float(), labels, label_smoothing=cfg.label_smoothing)
        nonlocal done
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        done += 1
        optimizer.follow(schedule, done)

    return step, cfg.batch_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    steps = {name: make_step(**changes) for name, changes in VARIANTS.items()}
    seconds: dict[tuple[str, int], list[float]] = {(n, t): [] for n in VARIANTS for t in (1, 2)}
    for _ in range(args.rounds):
        for threads in (2, 1):
            torch.set_num_threads(threads)
            for name, (step, batch) in steps.items():
                for _ in range(3):
                    step()
                started = time.perf_counter()
                for _ in range(args.steps):
                    step()
                seconds[(name, threads)].append((time.perf_counter() - started) / args.steps / batch * IMAGES)
    for (name, threads), values in seconds.items():
        print(f"{name:13s} {threads} thread(s): {statistics.median(values):.2f} s per 55,000 images")


if __name__ == "__main__":
    main()
