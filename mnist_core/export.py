"""Self-contained export: a torch.export `.pt2` program that loads without this package's code."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from .checkpoint import load_model


def export_checkpoint(checkpoint: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Export the checkpoint's network (input: float (N, 1, 28, 28) in [0, 1]; output: logits)."""
    model = load_model(checkpoint).model.eval()
    example = torch.rand(2, 1, 28, 28)
    batch = torch.export.Dim("batch", min=1, max=65536)
    program = torch.export.export(model, (example,), dynamic_shapes=({0: batch},))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.export.save(program, out)
    return out
