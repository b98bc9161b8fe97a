"""Choose the compute device: CUDA, else Apple MPS, else CPU, unless the user names one."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator

import torch


def available_devices() -> list[str]:
    """Devices usable on this machine, best first."""
    found = []
    if torch.cuda.is_available():
        found.append("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        found.append("mps")
    return found + ["cpu"]


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' picks the best available device; a named one must be present, else ValueError."""
    available = available_devices()
    if name == "auto":
        return torch.device(available[0])
    if name not in available:
        raise ValueError(f"device: {name!r} is not available here; available: {', '.join(available)}")
    return torch.device(name)


def native_bf16(device: torch.device) -> bool:
    """Whether `device` computes bf16 matrix products in hardware (CPUs: AVX-512 BF16 or AMX)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        try:  # the check torch's own compiler uses (oneDNN's view of the CPU)
            return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except (AttributeError, RuntimeError):
            return False
    return False


def uses_bf16(precision: str, device: torch.device) -> bool:
    """Whether training steps compute in bf16: when asked for, or for 'auto' where it is native."""
    return precision == "bf16" or (precision == "auto" and native_bf16(device))


def precision_autocast(precision: str, device: torch.device) -> torch.autocast:
    """The autocast context of a training step (bf16 or fp32, see uses_bf16)."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=uses_bf16(precision, device))


@functools.cache
def training_threads() -> int:
    """Intra-op threads a training process computes with: torch's default in a fresh process
    (OMP_NUM_THREADS, else the cores). Read once: call it before a process lowers its own count,
    as the app's server does (it reads drawings on one thread while a child process trains)."""
    return torch.get_num_threads()


@contextlib.contextmanager
def threads(count: int) -> Iterator[None]:
    """Compute with `count` intra-op threads inside the block, then restore this process's count."""
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)
