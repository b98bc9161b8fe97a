"""Whole numbers: synthetic 2-4 digit numbers made from MNIST test digits, read with Predictor.read_number.

Digits of 60-100% of the tallest one's height, one slant per number (up to +-0.25), baselines
jittered, light-on-dark / dark-on-white / transparent, margins from none to half a digit
(tests/support/numberset.py). Two gap regimes: "spaced" (0.1-0.6 digit heights between ink
boxes) and "tight" (-0.15-0.1: slanted boxes overlap, the ink never touches).

    python -m benchmarks.whole_numbers              # 500 numbers per regime, bundled model
    python -m benchmarks.whole_numbers --n 100 --json
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from mnist_core.data import load_mnist
from mnist_core.predict import Predictor
from tests.support.numberset import make_number_set

REGIMES = {"spaced": (0.1, 0.6), "tight": (-0.15, 0.1)}


def run(predictor: Predictor, n: int, seed: int, gap: tuple[float, float]) -> dict:
    data = load_mnist(log=lambda msg: None)
    numbers = make_number_set(data.test_images.numpy(), data.test_labels.numpy(), n, seed, gap)
    seconds, whole, count, digits_right, digits_total = [], 0, 0, 0, 0
    for image, truth, _ in numbers:
        start = time.perf_counter()
        result = predictor.read_number(image)
        seconds.append(time.perf_counter() - start)
        read = result.number or ""
        whole += read == truth
        count += len(read) == len(truth)
        if len(read) == len(truth):
            digits_right += sum(a == b for a, b in zip(read, truth))
        digits_total += len(truth)
    return {
        "n": n,
        "gap": list(gap),
        "number_accuracy": round(whole / n, 4),
        "digit_count_right": round(count / n, 4),
        "digit_accuracy": round(digits_right / digits_total, 4),
        "ms_p50": round(1000 * float(np.median(seconds)), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint", default=None, help="default: the bundled model")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    predictor = Predictor.from_checkpoint(args.checkpoint)
    results = {name: run(predictor, args.n, args.seed, gap) for name, gap in REGIMES.items()}
    if args.json:
        print(json.dumps(results))
        return
    for name, r in results.items():
        print(
            f"{name:7s} gaps {r['gap']}: {r['n']} numbers, whole number right {r['number_accuracy']:.1%}, "
            f"digit count right {r['digit_count_right']:.1%}, digits right {r['digit_accuracy']:.1%}, "
            f"{r['ms_p50']} ms p50"
        )


if __name__ == "__main__":
    main()
