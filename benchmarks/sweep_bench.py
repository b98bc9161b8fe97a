"""Sweep benchmark: what a TPE + median-pruning sweep finds against the defaults, and what a second worker buys.

Trains the default config once (the baseline's validation accuracy), then runs the same sweep
(`python -m mnist_core sweep`, as a user would) with one worker process and with two worker processes
sharing one study on a private PostgreSQL server (SQLite if PostgreSQL is not installed), and prints
one JSON object per variant plus a markdown table. Checkpoints go to a temporary folder.

    python -m benchmarks.sweep_bench --trials 30 --fix model=cnn,train_size=10000
    python -m benchmarks.sweep_bench --trials 30 --skip-baseline --workers 2 --no-split-threads
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.support.postgres import PostgresServer, pg_bin

REPO = Path(__file__).resolve().parent.parent


def baseline(fixed: str) -> dict:
    """Validation accuracy of the defaults (with the sweep's fixed fields) and the seconds it took."""
    from mnist_core.allocator import keep_freed_memory
    from mnist_core.search_space import build_space
    from mnist_core.train import train

    keep_freed_memory()  # as the sweep's workers (the CLI) do before training (allocator.py)
    cfg = build_space(None, fixed).base
    started = time.perf_counter()
    result = train(cfg)
    return {"val_acc": result.history["epochs"][-1]["val_acc"], "seconds": round(time.perf_counter() - started, 1)}


def sweep(url: str, study: str, workers: int, trials: int, fixed: str, env: dict, split: bool) -> dict:
    """Run `workers` processes of `trials // workers` trials each on one study; wall time until all end.
    `split`: each worker gets cores // workers torch threads (OMP_NUM_THREADS), as one would run several
    workers on one machine; otherwise each takes torch's default (all cores) and they oversubscribe."""
    threads = max(1, (os.cpu_count() or 1) // workers) if split else None
    if threads:
        env = {**env, "OMP_NUM_THREADS": str(threads)}
    cmd = [sys.executable, "-m", "mnist_core", "sweep", "--study", study, "--storage", url, "--fix", fixed, "--json"]
    started = time.perf_counter()
    procs = [
        subprocess.Popen(
            [*cmd, "--trials", str(trials // workers + (i < trials % workers))],
            env=env,
            stdout=subprocess.PIPE,
            cwd=REPO,
        )
        for i in range(workers)
    ]
    outs = [json.loads(p.communicate()[0].decode().strip().splitlines()[-1]) for p in procs]
    seconds = time.perf_counter() - started
    last = max(outs, key=lambda o: o["complete"] + o["pruned"] + o["failed"])  # the later reader sees all trials
    return {
        "workers": workers,
        "threads_each": threads or "default",
        "wall_seconds": round(seconds, 1),
        "load_avg": round(os.getloadavg()[0], 1),  # the machine's 1-minute load at the end: others' work shows here
        **{k: last[k] for k in ("complete", "pruned", "failed", "best_value", "best_params")},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--fix", default="model=cnn,train_size=10000")
    parser.add_argument("--workers", default="1,2", help="worker counts to compare, in this order")
    parser.add_argument("--skip-baseline", action="store_true", help="do not train the defaults first")
    parser.add_argument(
        "--no-split-threads", action="store_true", help="leave each worker torch's default thread count (all cores)"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="sweep-bench-") as tmp:
        env = {**os.environ, "MNIST_CHECKPOINT_DIR": tmp}
        os.environ["MNIST_CHECKPOINT_DIR"] = tmp
        rows = [] if args.skip_baseline else [{"variant": "defaults", **baseline(args.fix)}]
        if rows:
            print(json.dumps(rows[0]), flush=True)
        server = PostgresServer().start() if pg_bin() else None
        try:
            url = server.url if server else f"sqlite:///{tmp}/sweeps.db"
            for workers in (int(w) for w in args.workers.split(",")):
                split = not args.no_split_threads
                row = sweep(url, f"bench-{workers}w", workers, args.trials, args.fix, env, split)
                rows.append({"variant": f"sweep, {workers} worker(s) x {row['threads_each']} thread(s)", **row})
                print(json.dumps(rows[-1]), flush=True)
        finally:
            if server:
                server.close()
    print("| variant | best val acc | wall s | complete | pruned | failed |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        acc = r.get("best_value", r.get("val_acc"))
        wall = r.get("wall_seconds", r.get("seconds"))
        print(
            f"| {r['variant']} | {acc:.2%} | {wall} | {r.get('complete', '')} | {r.get('pruned', '')} | {r.get('failed', '')} |"
        )


if __name__ == "__main__":
    main()
