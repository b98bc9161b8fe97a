"""Atomic file writes: a hidden temporary file in the target's folder, then one rename over the target.

A reader sees either the old file or the new one, never half of one, and a crash mid-write leaves the
old file intact plus at most a hidden `.<name>.<random>.tmp` (which `remove_stale_temp_files` in
`checkpoint_paths` clears from a checkpoint folder). Standard library only: the app uses it before torch loads.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

FILE_MODE = 0o644  # mkstemp makes 0600; what is written here is an ordinary shareable file


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], object], durable: bool = True) -> Path:
    """Write `path` with `write(fh)` on a temporary file in the same folder, then rename it over `path`.

    `durable` fsyncs the file and its folder so the new content survives a power cut (skip it for
    throwaway files, where the fsync only costs time). On any failure, the temporary file is removed,
    `path` is unchanged and the exception propagates.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if durable:
        fsync_folder(path.parent)  # make the rename itself durable, not only the file's bytes
    return path


def atomic_write_bytes(path: str | os.PathLike, data: bytes, durable: bool = True) -> Path:
    """`atomic_write` of a bytes object."""
    return atomic_write(path, lambda fh: fh.write(data), durable)


def fsync_folder(folder: str | os.PathLike) -> None:
    """fsync a directory so a rename in it survives a power cut (POSIX; a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # Windows: directories cannot be opened this way, and NTFS journals renames
        return
    try:
        os.fsync(fd)
    except OSError:  # some filesystems refuse fsync on a directory; the file itself is already synced
        pass
    finally:
        os.close(fd)
