"""Digits at the edge: MNIST test digits cropped to their ink box (no margin), scaled up, read by the model.

A photo cropped to the digit, a scan or a dataset image cropped to its ink has no margin, so the
image's border is partly ink. Each digit is cropped to its ink box, resized so its longer side is
28-400 px, and given a polarity (dark on white / light on dark) and a format (grey L, RGB, opaque
RGBA, ink-in-alpha RGBA): the variant is drawn per digit from a seeded generator. The same digits
with a 25% margin are the control: the edge case should read as well as they do.

    python -m benchmarks.edge_digits                 # 1,000 digits, bundled model
    python -m benchmarks.edge_digits --n 200 --json
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter

from mnist_core.data import load_mnist
from mnist_core.predict import Predictor
from tests.support.edgeset import crop_to_ink, render, variants


def run(predictor: Predictor, n: int, seed: int, margin: float) -> dict:
    data = load_mnist(log=lambda msg: None)
    images, labels = data.test_images.numpy(), data.test_labels.numpy()
    rows = variants(n, seed)
    inputs = [render(crop_to_ink(images[i]), side, pol, fmt, margin) for i, side, pol, fmt in rows]
    start = time.perf_counter()
    preds = predictor.predict_batch(inputs)
    seconds = time.perf_counter() - start
    right, no_digit, total = Counter(), Counter(), Counter()
    for (i, side, pol, fmt), p in zip(rows, preds):
        for key in ("all", pol, fmt, "28-63px" if side < 64 else "64-159px" if side < 160 else "160-400px"):
            total[key] += 1
            right[key] += p.digit == int(labels[i])
            no_digit[key] += p.digit is None
    return {
        "margin": margin,
        "accuracy": {k: round(right[k] / total[k], 4) for k in total},
        "no_digit": {k: round(no_digit[k] / total[k], 4) for k in total},
        "n": {k: total[k] for k in total},
        "ms_per_image": round(1000 * seconds / n, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint", default=None, help="default: the bundled model")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    predictor = Predictor.from_checkpoint(args.checkpoint)
    results = [run(predictor, args.n, args.seed, margin) for margin in (0.0, 0.25)]
    if args.json:
        print(json.dumps(results))
        return
    for result in results:
        label = "cropped to the ink box" if not result["margin"] else f"with a {result['margin']:.0%} margin"
        print(f"{label}: {result['ms_per_image']} ms/image")
        for key in result["n"]:
            print(
                f"  {key:14s} n={result['n'][key]:5d}  accuracy {result['accuracy'][key]:.2%}"
                f"  no digit {result['no_digit'][key]:.2%}"
            )


if __name__ == "__main__":
    main()
