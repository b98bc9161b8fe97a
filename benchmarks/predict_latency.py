"""Prediction latency: Predictor.predict on 800x800 sketches and 28x28 digits, batch test evaluation,
and (optionally) requests per second through a running app with concurrent gradio_client clients.

    python -m benchmarks.predict_latency                      # bundled model, CPU
    python -m benchmarks.predict_latency --app-url http://127.0.0.1:7860 --clients 4 --seconds 30
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from mnist_core.checkpoint import BUNDLED_DEFAULT, LoadedModel
from mnist_core.config import TrainConfig
from mnist_core.data import load_mnist
from mnist_core.evaluate import evaluate
from mnist_core.models import build_model
from mnist_core.predict import DEFAULT_RECIPE, Predictor
from tests.support.sketchset import make_sketch

CANVAS = 800


def percentiles(seconds: list[float]) -> dict[str, float]:
    """p50 and p99 in milliseconds."""
    ms = np.array(seconds) * 1000
    return {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)), "n": len(ms)}


def sketch_800(digit: np.ndarray, seed: int) -> np.ndarray:
    """An 800x800 RGBA drawing of `digit`: black ink whose coverage is the alpha, as the Sketchpad sends
    (tests/support/sketchset.py's transparent style, centred on the 800x800 canvas)."""
    sketch = make_sketch(digit, np.random.default_rng(seed), style="transparent")
    canvas = np.zeros((CANVAS, CANVAS, 4), dtype=np.uint8)
    h, w = sketch.shape[:2]
    top, left = (CANVAS - h) // 2, (CANVAS - w) // 2
    canvas[top : top + h, left : left + w] = sketch
    return canvas


def time_calls(fn, inputs: list, warmup: int = 5) -> list[float]:
    for item in inputs[:warmup]:
        fn(item)
    seconds = []
    for item in inputs:
        start = time.perf_counter()
        fn(item)
        seconds.append(time.perf_counter() - start)
    return seconds


def load_predictor(checkpoint: str | None, model: str | None) -> Predictor:
    """The checkpoint's predictor; or, with --model, an untrained network (latency depends only on shape)."""
    if model:
        cfg = TrainConfig.from_dict({**DEFAULT_RECIPE, "model": model})
        return Predictor(LoadedModel(build_model(cfg).eval(), cfg, {}), Path(f"<untrained {model}>"))
    return Predictor.from_checkpoint(checkpoint or BUNDLED_DEFAULT)


def app_throughput(
    url: str, sketches: list[np.ndarray], labels, clients: int, seconds: float, model: str | None
) -> dict:
    """Requests per second through the app's `predict` API: tests/support/load.py's clients, uploading
    the first 20 sketches as PNGs, with no training run."""
    from tests.support.load import run_load

    with tempfile.TemporaryDirectory() as tmp:
        images = []
        for i, (sketch, label) in enumerate(zip(sketches[:20], labels)):
            path = Path(tmp) / f"sketch{i}.png"
            Image.fromarray(sketch, "RGBA").save(path)
            images.append((path, int(label)))
        return run_load(url, clients, seconds, training=None, images=images, model=model)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=None, help="checkpoint (default: the bundled checkpoints/default.pt)")
    parser.add_argument("--model", default=None, help="time an untrained network of this kind instead")
    parser.add_argument("-n", type=int, default=300, help="images per latency measurement")
    parser.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: torch's default)")
    parser.add_argument("--eval-repeats", type=int, default=5, help="timed runs of the 10,000-image evaluation")
    parser.add_argument("--app-url", default=None, help="running app to load-test, e.g. http://127.0.0.1:7860")
    parser.add_argument("--app-model", default=None, help="model name to send to the app (default: the app's)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent gradio_client clients")
    parser.add_argument("--seconds", type=float, default=30, help="how long the app's clients run (default 30)")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = parser.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    predictor = load_predictor(args.checkpoint, args.model)
    data = load_mnist(ensure=False)
    digits = data.test_images[: args.n].numpy()
    results: dict = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "model": predictor.config.model,
        "checkpoint": str(predictor.path),
        "load_before": os.getloadavg()[0],
    }
    print(f"torch {torch.__version__}  threads {results['threads']}  model {results['model']}  ({predictor.path})")
    print(f"load average {results['load_before']:.2f}")

    sketches = [sketch_800(d, i) for i, d in enumerate(digits)]
    results["predict_sketch_800_rgba"] = percentiles(time_calls(predictor.predict, sketches))
    right = sum(predictor.predict(s).digit == int(y) for s, y in zip(sketches, data.test_labels[: args.n]))
    results["sketch_accuracy"] = right / len(sketches)
    results["predict_28x28"] = percentiles(time_calls(predictor.predict, list(digits)))
    from mnist_core.preprocess import to_mnist

    results["to_mnist_sketch_800"] = percentiles(time_calls(to_mnist, sketches))
    small = [to_mnist(s) for s in sketches[:50]]
    results["model_forward_one"] = percentiles(time_calls(lambda x: predictor.probabilities(x[None]), small))
    for key in ("predict_sketch_800_rgba", "predict_28x28", "to_mnist_sketch_800", "model_forward_one"):
        r = results[key]
        print(f"{key:26s} p50 {r['p50_ms']:7.2f} ms  p99 {r['p99_ms']:7.2f} ms  (n={r['n']})")
    print(f"sketch accuracy (800x800 RGBA renders of the first {args.n} test digits): {results['sketch_accuracy']:.2%}")

    evaluate(predictor.model, data.test_images[:1000], data.test_labels[:1000])  # warm-up
    seconds = []
    for _ in range(args.eval_repeats):
        start = time.perf_counter()
        result = evaluate(predictor.model, data.test_images, data.test_labels)
        seconds.append(time.perf_counter() - start)
    results["evaluate_10000"] = {
        "median_s": statistics.median(seconds),
        "min_s": min(seconds),
        "accuracy": result.accuracy,
    }
    print(
        f"evaluate 10,000 test images: median {statistics.median(seconds):.3f} s  min {min(seconds):.3f} s  "
        f"(accuracy {result.accuracy:.2%})"
    )

    if args.app_url:
        r = app_throughput(args.app_url, sketches, data.test_labels, args.clients, args.seconds, args.app_model)
        results["app"] = r
        lat = r["latency_s"]
        print(
            f"app {args.app_url}: {r['requests_per_s']} requests/s with {r['clients']} clients  "
            f"p50 {lat['p50']} s  p99 {lat['p99']} s  ({r['requests']} ok, {r['errors']} errors, "
            f"{r['wrong_digits']} wrong digits)"
        )
        if r["error_samples"]:
            print(f"  first error: {r['error_samples'][0]}")
    else:
        print("app throughput: skipped (give --app-url to measure it)")
    results["load_after"] = os.getloadavg()[0]
    print(f"load average after {results['load_after']:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
