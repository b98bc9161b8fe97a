"""Where checkpoints live and how runs are named; their errors. No torch here: the app lists and
names runs with it before torch is loaded (its first page comes that much sooner), and
`mnist_core.checkpoint` re-exports all of it.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import TrainConfig

REPO_ROOT = Path(__file__).resolve().parent.parent
BUNDLED_DEFAULT = REPO_ROOT / "checkpoints" / "default.pt"


class CheckpointError(ValueError):
    """A file that is not a readable checkpoint of this project, or whose weights do not fit it."""


class CheckpointWriteError(OSError):
    """A checkpoint could not be written (disk full, read-only folder); an earlier version is unchanged."""


def _write_error(message: str, exc: OSError) -> CheckpointWriteError:
    """`message` in plain words, keeping the errno; never the server's folder (the message reaches web users)."""
    error = CheckpointWriteError(message)
    error.errno = exc.errno
    return error


def check_writable(folder: str | os.PathLike) -> None:
    """Raise CheckpointWriteError unless a checkpoint could be created in `folder` (made if missing)."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test-", suffix=".tmp", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise _write_error(f"no checkpoint can be saved on this server ({exc.strerror or exc})", exc) from exc


def checkpoint_dir() -> Path:
    """Where trained runs are saved: $MNIST_CHECKPOINT_DIR, else the repository's checkpoints/."""
    return Path(os.environ.get("MNIST_CHECKPOINT_DIR") or REPO_ROOT / "checkpoints")


def new_run_path(folder: str | os.PathLike, cfg: TrainConfig) -> Path:
    """A fresh checkpoint path `<model>-<YYYYmmdd-HHMMSS>[-n].pt` in `folder`: never one already on disk.

    The CLI and the app both name runs with it, so a run started in the same second as another
    gets a `-2`, `-3`... suffix instead of overwriting it.
    """
    folder = Path(folder)
    stem = f"{cfg.model}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, n = folder / f"{stem}.pt", 2
    while path.exists():
        path, n = folder / f"{stem}-{n}.pt", n + 1
    return path


STALE_TEMP_SECONDS = 60.0  # a live save rewrites its temporary file within seconds


def remove_stale_temp_files(folder: str | os.PathLike, max_age: float = STALE_TEMP_SECONDS) -> list[Path]:
    """Delete the hidden `.tmp` files a killed save left in `folder` (untouched for `max_age` seconds).

    A save in progress keeps writing its file, so only leftovers are old; returns what was removed.
    """
    removed = []
    now = time.time()
    try:
        candidates = list(Path(folder).glob(".*.tmp"))
    except OSError:
        return removed
    for tmp in candidates:
        try:
            if now - tmp.stat().st_mtime > max_age and tmp.is_file():
                tmp.unlink()
                removed.append(tmp)
        except OSError:  # gone meanwhile, or not ours to delete: never fail a save or a listing for it
            continue
    return removed
