"""What several test modules share: a training config that runs in seconds, and fake checkpoints."""

from __future__ import annotations

from pathlib import Path

import torch

from mnist_core.checkpoint import save_checkpoint
from mnist_core.config import TrainConfig
from mnist_core.models import build_model

# A tiny run: a small MLP on 2,000 images, one epoch (a few seconds on two CPU cores).
TINY = dict(model="mlp", hidden_sizes="64", train_size=2000, val_size=500, epochs=1, batch_size=64)
FINISHED = {"epochs_completed": 1, "train_seconds": 1.0, "test_accuracy": 0.9, "test_loss": 0.3}


def fake_checkpoint(path: Path, steps: list[dict] | None = None, metrics: dict | None = None, **config) -> Path:
    """A real checkpoint of TINY (changed by `config`) with untrained weights and a made-up one-epoch history."""
    cfg = TrainConfig(**{**TINY, **config})
    torch.manual_seed(0)
    history = {"steps": steps or [], "epochs": [{"epoch": 1, "train_loss": 1.0}]}
    return save_checkpoint(path, build_model(cfg), cfg, history, FINISHED if metrics is None else metrics)
