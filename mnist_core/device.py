"""Choose the compute device: CUDA, else Apple MPS, else CPU, unless the user names one."""

from __future__ import annotations

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
