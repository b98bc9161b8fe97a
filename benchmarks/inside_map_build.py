"""The test-set map's first build and its cached read, in a fresh process, as the app's Inside tab
meets them: features of the 60,000 training and 10,000 test digits, the 2-D map, the cache file
written, then read back; then `Predictor.explain` of 30 test digits with that index (attribution,
activations, 8 nearest training digits, map position). The app's server computes on 1 torch thread
(`--threads 1`).

    python benchmarks/inside_map_build.py --threads 1
    python benchmarks/inside_map_build.py            # torch's default (all cores), as the CLI
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mnist_core.checkpoint import BUNDLED_DEFAULT  # noqa: E402
from mnist_core.data import load_mnist_cached  # noqa: E402
from mnist_core.embedding import DEFAULT_MAP, inside_index  # noqa: E402
from mnist_core.predict import Predictor  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: torch's default)")
    parser.add_argument("--method", default=DEFAULT_MAP)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    predictor = Predictor.from_checkpoint(BUNDLED_DEFAULT)
    model = predictor.model
    data = load_mnist_cached(log=lambda _msg: None)
    with tempfile.TemporaryDirectory() as folder:
        cache = Path(folder) / "default.pt.inside.npz"
        started = time.perf_counter()
        inside_index(BUNDLED_DEFAULT, model, data, method=args.method, cache=cache, log=print)
        built = time.perf_counter() - started
        started = time.perf_counter()
        inside_index(BUNDLED_DEFAULT, model, data, method=args.method, cache=cache)
        read = time.perf_counter() - started
        seconds = []
        for image in data.test_images[:30].numpy():
            started = time.perf_counter()
            predictor.explain(image, data=data, cache=cache)
            seconds.append(time.perf_counter() - started)
    print(f"{args.method}, {torch.get_num_threads()} thread(s): first build {built:.1f} s, from the cache {read:.2f} s")
    first, rest = seconds[0] * 1e3, [t * 1e3 for t in seconds[1:]]
    print(
        f"explain with the index: first {first:.0f} ms (imports Captum), then median {statistics.median(rest):.0f} ms,"
        f" max {max(rest):.0f} ms"
    )


if __name__ == "__main__":
    main()
