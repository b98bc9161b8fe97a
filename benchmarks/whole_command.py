"""The whole training command as a user waits for it, and where its seconds go.

For each seed, interleaved: (1) `python -m mnist_core train --model cnn --epochs 1 --seed S --json`
timed from the parent, start to exit; (2) the same command through `mnist_core.cli.main` in a child
that times its phases: interpreter start and exit, `import torch`, importing the package, reading
MNIST, setting up (split, model, optimizer), training (`train_seconds`), evaluation (per-epoch
validation and the test set), saving the checkpoint. Then the classic PyTorch example
(time_to_accuracy.py's reference) for the ratio, measured in the same run unless told otherwise.

    python -m benchmarks.whole_command --runs 5 --reference-epochs 8
    python -m benchmarks.whole_command --runs 5 --reference-seconds 140.7   # reuse a measured figure
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMAND = ["-m", "mnist_core", "train", "--model", "cnn", "--epochs", "1"]

# The child: the real CLI, its phases timed by wrapping the functions it calls.
PHASES = r"""
import time
t0 = time.perf_counter()
import contextlib, io, json, sys
import torch
t_torch = time.perf_counter()
import mnist_core.cli, mnist_core.train, mnist_core.data, mnist_core.progress, mnist_core.checkpoint
t_imports = time.perf_counter()
phases = {"data": 0.0, "evaluation": 0.0, "save": 0.0, "train_call": 0.0}
def timed(name, fn):
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            phases[name] += time.perf_counter() - start
    return wrapper
mnist_core.data.load_mnist = timed("data", mnist_core.data.load_mnist)
mnist_core.train.evaluate = timed("evaluation", mnist_core.train.evaluate)
mnist_core.train.save_checkpoint = timed("save", mnist_core.train.save_checkpoint)
mnist_core.train.train = timed("train_call", mnist_core.train.train)
out = io.StringIO()
with contextlib.redirect_stdout(out):
    code = mnist_core.cli.main(sys.argv[1:])
end = time.perf_counter()
metrics = json.loads(out.getvalue().strip().splitlines()[-1])
phases["training"] = metrics["train_seconds"]
phases["setup"] = phases.pop("train_call") - phases["training"] - phases["evaluation"] - phases["save"]
phases.update(import_torch=t_torch - t0, import_package=t_imports - t_torch, in_process=end - t0)
phases["other"] = phases["in_process"] - sum(
    phases[k] for k in ("import_torch", "import_package", "data", "setup", "training", "evaluation", "save")
)
print(json.dumps({"code": code, "phases": phases, "accuracy": metrics["test_accuracy"]}))
"""

PHASE_ORDER = ("startup_exit", "import_torch", "import_package", "data", "setup", "training", "evaluation", "save")


def whole_command(seed: int, out: Path, extra: list[str]) -> dict:
    """Wall seconds of the plain command, and its test accuracy and training seconds."""
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, *COMMAND, "--seed", str(seed), "--out", str(out), "--json", *extra],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"the command failed:\n{result.stderr[-2000:]}")
    metrics = json.loads(result.stdout.strip().splitlines()[-1])
    return {"wall": wall, "accuracy": metrics["test_accuracy"], "training": metrics["train_seconds"]}


def phased_command(seed: int, out: Path, extra: list[str]) -> dict:
    """The same command in a child that times each phase."""
    args = COMMAND[2:] + ["--seed", str(seed), "--out", str(out), "--json", *extra]
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", PHASES, *args], capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"the phased command failed:\n{result.stderr[-2000:]}")
    report = json.loads(result.stdout.strip().splitlines()[-1])
    phases = report["phases"]
    phases["startup_exit"] = wall - phases["in_process"]
    phases["wall"] = wall
    return phases


def reference(args) -> dict | None:
    """The classic example's time to the target: measured now, or a figure given on the command line."""
    if args.reference_seconds:
        return {
            "seconds_to_target": args.reference_seconds,
            "lower_bound": False,
            "method": f"REUSED, not measured in this run: {args.reference_seconds} s given with --reference-seconds",
        }
    if not (args.reference_steps or args.reference_epochs):
        return None
    import torch

    from benchmarks.time_to_accuracy import REFERENCE_EPOCHS_TO_TARGET, time_reference

    return time_reference(
        torch.device("cpu"), args.reference_steps, args.reference_epochs, 0.99, REFERENCE_EPOCHS_TO_TARGET
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="seeds 0..runs-1, each run both ways")
    parser.add_argument("--reference-steps", type=int, default=0, help="time the reference this many steps")
    parser.add_argument("--reference-epochs", type=int, default=0, help="train the reference to 99%%, at most N epochs")
    parser.add_argument("--reference-seconds", type=float, default=0.0, help="reuse this measured reference time")
    parser.add_argument("--set", action="append", default=[], metavar="FLAG=VALUE", help="extra train flag")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    extra = [f"--{pair.replace('=', ' ', 1)}".split(" ", 1) for pair in args.set]
    extra = [part for pair in extra for part in pair]

    load = os.getloadavg()[0]
    print(f"command: python {' '.join(COMMAND)} {' '.join(extra)}  (load {load:.2f})", flush=True)
    wholes, phased = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.runs):
            wholes.append(whole_command(seed, Path(tmp) / f"w{seed}.pt", extra))
            phased.append(phased_command(seed, Path(tmp) / f"p{seed}.pt", extra))
            w, p = wholes[-1], phased[-1]
            print(
                f"  seed {seed}: whole {w['wall']:.2f} s (training {w['training']:.2f} s, test {w['accuracy']:.2%}) | "
                + "  ".join(f"{k} {p[k]:.2f}" for k in PHASE_ORDER)
                + f"  [phased wall {p['wall']:.2f}]",
                flush=True,
            )
    summary = {
        "command": " ".join(["python", *COMMAND, *extra]),
        "load_before": load,
        "whole": wholes,
        "phases": phased,
        "whole_median_s": statistics.median(w["wall"] for w in wholes),
        "training_median_s": statistics.median(w["training"] for w in wholes),
        "phase_medians_s": {k: statistics.median(p[k] for p in phased) for k in PHASE_ORDER},
        "reached_99": f"{sum(w['accuracy'] >= 0.99 for w in wholes)}/{len(wholes)}",
    }
    print(
        f"whole command median {summary['whole_median_s']:.2f} s, training median {summary['training_median_s']:.2f} s, "
        f"{summary['reached_99']} seeds >= 99.0%, accuracies {[round(w['accuracy'], 4) for w in wholes]}"
    )
    print("phase medians: " + "  ".join(f"{k} {v:.2f}" for k, v in summary["phase_medians_s"].items()))
    ref = reference(args)
    if ref is not None:
        summary["reference"] = ref
        bound = ">= " if ref["lower_bound"] else ""
        summary["ratio_training"] = ref["seconds_to_target"] / summary["training_median_s"]
        summary["ratio_whole"] = ref["seconds_to_target"] / summary["whole_median_s"]
        print(f"reference: {ref['method']}")
        print(
            f"reference time to 99%: {bound}{ref['seconds_to_target']:.1f} s; ratio {bound}"
            f"{summary['ratio_training']:.1f}x (training) / {bound}{summary['ratio_whole']:.1f}x (whole command)"
        )
    summary["load_after"] = os.getloadavg()[0]
    print(f"load average after: {summary['load_after']:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2))
    return 0 if summary["reached_99"] == f"{len(wholes)}/{len(wholes)}" else 1


if __name__ == "__main__":
    sys.exit(main())
