"""This machine's matmul peak (fp32 and bf16) against the FLOP/s a training step of a recipe achieves.

The peak is a large square matmul with torch (best of --repeats); the step's FLOPs are counted by
torch.utils.flop_counter over one forward and backward pass (convolutions and matmuls, which is
where the work is), and its time is the median over --steps real steps of `train()`'s inner loop:
batch indexing, forward, loss, backward, fused AdamW.

    python -m benchmarks.machine_peak                       # default recipe (precision auto)
    python -m benchmarks.machine_peak --set precision=fp32  # the same in fp32
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from mnist_core.config import TrainConfig
from mnist_core.device import native_bf16, precision_autocast, uses_bf16
from mnist_core.models import build_model
from mnist_core.optim import Optimizer


def matmul_peak(dtype: torch.dtype, size: int, repeats: int) -> float:
    """FLOP/s of the best of `repeats` (size x size) @ (size x size) products."""
    a, b = torch.randn(size, size).to(dtype), torch.randn(size, size).to(dtype)
    a @ b  # warm-up: oneDNN/BLAS pick their kernels
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best


def step_flops_and_time(cfg: TrainConfig, steps: int) -> tuple[int, float]:
    """FLOPs of one training step (forward + backward) and the median seconds of a real step."""
    torch.manual_seed(0)
    device = torch.device("cpu")
    model = build_model(cfg)
    optimizer = Optimizer(cfg, model.parameters())
    autocast = precision_autocast(cfg.precision, device)
    images = torch.randint(0, 256, (60_000, 28, 28), dtype=torch.uint8)
    labels = torch.randint(0, 10, (60_000,))

    def step() -> None:
        idx = torch.randint(0, len(images), (cfg.batch_size,))
        x = images[idx].unsqueeze(1).float().div_(255)
        with autocast:
            logits = model(x)
        loss = F.cross_entropy(logits.float(), labels[idx], label_smoothing=cfg.label_smoothing)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    counter = FlopCounterMode(display=False)
    with counter:
        step()
    times = []
    for _ in range(steps + 10):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return counter.get_total_flops(), statistics.median(times[10:])


def cpu_name() -> str:
    """The CPU's model name and the widest vector ISA torch dispatches to (e.g. 'AMD EPYC, AVX2')."""
    try:
        names = [line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")]
    except OSError:
        names = []
    return f"{names[0] if names else 'unknown CPU'}, {torch.backends.cpu.get_cpu_capability()}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2048, help="matmul size (square)")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--steps", type=int, default=100, help="training steps timed")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="TrainConfig override")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    cfg = TrainConfig.from_dict(dict(pair.split("=", 1) for pair in args.set))
    load = os.getloadavg()[0]
    cpu = torch.device("cpu")
    result = {"cpu": cpu_name(), "threads": torch.get_num_threads(), "load_before": load, "recipe": cfg.to_dict()}
    result["bf16_native"] = native_bf16(cpu)
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        result[f"peak_{name}_gflops"] = matmul_peak(dtype, args.size, args.repeats) / 1e9
    flops, seconds = step_flops_and_time(cfg, args.steps)
    result.update(step_gflop=flops / 1e9, step_ms=seconds * 1e3, step_gflops=flops / seconds / 1e9)
    result["step_precision"] = "bf16" if uses_bf16(cfg.precision, cpu) else "fp32"
    result["load_after"] = os.getloadavg()[0]
    bf16 = "native" if result["bf16_native"] else "emulated: no AVX-512 BF16 or AMX"
    peak = result[f"peak_{result['step_precision']}_gflops"]
    print(
        f"{result['cpu']}; threads {result['threads']}; load {load:.2f} -> {result['load_after']:.2f}\n"
        f"matmul {args.size}^3 peak: fp32 {result['peak_fp32_gflops']:.0f} GFLOP/s, "
        f"bf16 {result['peak_bf16_gflops']:.1f} GFLOP/s ({bf16})\n"
        f"training step ({cfg.model}, batch {cfg.batch_size}, precision {cfg.precision}, "
        f"computing in {result['step_precision']}): {result['step_gflop']:.3f} GFLOP in {result['step_ms']:.2f} ms "
        f"= {result['step_gflops']:.0f} GFLOP/s, {result['step_gflops'] / peak:.0%} of the "
        f"{result['step_precision']} matmul peak"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
