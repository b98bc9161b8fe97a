"""Room on disk for a run: a start is refused when the checkpoint folder's disk could not hold what it saves.

A full disk otherwise shows only after a whole epoch, when the first save fails, and on a shared Space it
would fail every visitor's run after it. What a run needs is bounded generously from its model's size.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ..config import TrainConfig
from .caps import JobError

MARGIN = 64 * 2**20  # the Inside tab's cache of a looked-into run (~36 MB), the history, the study database
COPIES = 3  # the checkpoint, its temporary file while it is rewritten, and slack for a larger history


def weights_bytes(cfg: TrainConfig) -> int:
    """The bytes of `cfg`'s model's weights and buffers (what a checkpoint's state_dict holds)."""
    from ..models import build_model  # torch: a start loads it anyway

    return sum(t.numel() * t.element_size() for t in build_model(cfg).state_dict().values())


def needed_bytes(cfg: TrainConfig, runs: int = 1) -> int:
    """A generous bound on what `runs` runs of `cfg` write to the checkpoint folder (a sweep: one per trial)."""
    return COPIES * weights_bytes(cfg) * max(1, runs) + MARGIN


def check_free_space(
    folder: str | Path, cfg: TrainConfig, runs: int = 1, refusal: str = "training is unavailable"
) -> None:
    """Raise JobError naming the free and needed space if `folder`'s disk cannot hold `runs` runs of `cfg`."""
    free = shutil.disk_usage(folder).free
    needed = needed_bytes(cfg, runs)
    if free < needed:
        raise JobError(
            f"{refusal}: the server's disk has {_size(free)} free and a run of this model needs about "
            f"{_size(needed)}{f' ({runs} trials)' if runs > 1 else ''}"
        )


def _size(n: int) -> str:
    """Bytes in MB (or GB past 10 GB), for a message."""
    return f"{n / 2**30:.1f} GB" if n >= 10 * 2**30 else f"{n / 2**20:.0f} MB"
