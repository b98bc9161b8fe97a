"""Self-contained export: a torch.export `.pt2` program that loads without this package's code."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from .checkpoint import load_model
from .models import digit_logits, refusal_margin


class Reader(nn.Module):
    """A network with its refusal threshold baked in: (digit logits (N, 10), refused (N,) bool), so the
    exported program answers "not a digit" as Predictor does (a model that never refuses: all False)."""

    def __init__(self, model: nn.Module, threshold: float | None):
        super().__init__()
        self.model, self.threshold = model, threshold

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.model(x)
        margin = refusal_margin(logits)
        if margin is None or self.threshold is None:
            return digit_logits(logits), torch.zeros(len(x), dtype=torch.bool, device=x.device)
        return digit_logits(logits), margin > self.threshold


def export_checkpoint(checkpoint: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Export the checkpoint's network (input: float (N, 1, 28, 28) in [0, 1]; outputs: the ten digits'
    logits and whether each image is refused as not a digit)."""
    loaded = load_model(checkpoint)
    refusal = loaded.payload.get("refusal")
    reader = Reader(loaded.model.eval(), float(refusal["threshold"]) if refusal else None).eval()
    example = torch.rand(2, 1, 28, 28)
    batch = torch.export.Dim("batch", min=1, max=65536)
    program = torch.export.export(reader, (example,), dynamic_shapes=({0: batch},))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.export.save(program, out)
    return out
