"""Inside tab latency: the library's explain (no index) vs the tab's handler (explain + PNG pictures).

Interleaved over the same test digits, bundled model; the map's background build is disabled so the
handler answers as it does while the map is being computed. Usage:
    python benchmarks/inside_tab.py --digits 15 --threads 1
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from mnist_core.app.context import AppContext
from mnist_core.app.jobs import InThread, JobManager
from mnist_core.app.registry import RunRegistry
from mnist_core.app.tabs.inside import InsideTab
from mnist_core.data import load_mnist_cached


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--digits", type=int, default=15)
    parser.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    data = load_mnist_cached()
    tab = InsideTab(AppContext(JobManager(runner=InThread()), RunRegistry()))
    tab.warm_index = lambda model: None  # time the answer, not the background build
    predictor = tab.ctx.registry.predictor(None)
    library, handler = [], []
    for i in range(args.digits + 1):
        image = data.test_images[i].float().div(255).numpy()
        t0 = time.perf_counter()
        predictor.explain(image, use_index=False)
        t1 = time.perf_counter()
        tab.explain(image, None, None)
        t2 = time.perf_counter()
        if i:  # the first round warms Captum and the caches
            library.append((t1 - t0) * 1000)
            handler.append((t2 - t1) * 1000)
    load = Path("/proc/loadavg").read_text().split()[:3]
    print(f"threads {torch.get_num_threads()}, load {load}, {args.digits} digits")
    print(f"library explain (no index): median {statistics.median(library):.0f} ms")
    print(f"tab handler (explain + pictures): median {statistics.median(handler):.0f} ms")


if __name__ == "__main__":
    main()
