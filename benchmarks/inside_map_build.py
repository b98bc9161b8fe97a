"""The test-set map's first build and its cached read, in a fresh process, as the app's Inside tab
meets them: features of the 60,000 training and 10,000 test digits, the 2-D map, the cache file
written, then read back. The app's server computes on 1 torch thread (`--threads 1`).

    python benchmarks/inside_map_build.py --threads 1
    python benchmarks/inside_map_build.py            # torch's default (all cores), as the CLI
"""

from __future__ import annotations

import argparse
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
    model = Predictor.from_checkpoint(BUNDLED_DEFAULT).model
    data = load_mnist_cached(log=lambda _msg: None)
    with tempfile.TemporaryDirectory() as folder:
        cache = Path(folder) / "default.pt.inside.npz"
        started = time.perf_counter()
        inside_index(BUNDLED_DEFAULT, model, data, method=args.method, cache=cache, log=print)
        built = time.perf_counter() - started
        started = time.perf_counter()
        inside_index(BUNDLED_DEFAULT, model, data, method=args.method, cache=cache)
        read = time.perf_counter() - started
    print(f"{args.method}, {torch.get_num_threads()} thread(s): first build {built:.1f} s, from the cache {read:.2f} s")


if __name__ == "__main__":
    main()
