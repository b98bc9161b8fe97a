"""Checkpoint files on disk: leftovers of killed saves are cleaned up, and a rename is made durable."""

from __future__ import annotations

import os
import time

from mnist_core import checkpoint
from mnist_core.app.registry import RunRegistry
from tests.support.fixtures import fake_checkpoint


def _temp_files(folder, age: float):
    """A killed save's temporary checkpoint and a killed write probe, last touched `age` seconds ago."""
    files = [folder / f".run-{age:g}.pt.a1b2c3.tmp", folder / f".write-test-{age:g}.tmp"]
    for f in files:
        f.write_bytes(b"half a checkpoint")
        os.utime(f, (time.time() - age, time.time() - age))
    return files


def test_a_save_removes_stale_temp_files_and_leaves_fresh_ones(tmp_path):
    stale, fresh = _temp_files(tmp_path, 120), _temp_files(tmp_path, 1)
    fake_checkpoint(tmp_path / "next.pt")
    assert not any(f.exists() for f in stale)
    assert all(f.exists() for f in fresh)  # perhaps a save in progress in another process
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".tmp")) == ["next.pt"]


def test_listing_the_runs_removes_stale_temp_files(tmp_path):
    fake_checkpoint(tmp_path / "run.pt")
    stale = _temp_files(tmp_path, 3600)
    assert RunRegistry(directory=tmp_path, bundled=None).names() == ["run"]
    assert not any(f.exists() for f in stale)


def test_the_folder_is_fsynced_after_the_rename(tmp_path, monkeypatch):
    events = []
    real_replace, real_fsync = os.replace, os.fsync
    folder_inode = tmp_path.stat().st_ino

    def replace(src, dst):
        real_replace(src, dst)
        events.append("replace")

    def fsync(fd):
        events.append("fsync folder" if os.fstat(fd).st_ino == folder_inode else "fsync file")
        real_fsync(fd)

    monkeypatch.setattr(checkpoint.os, "replace", replace)
    monkeypatch.setattr(checkpoint.os, "fsync", fsync)
    fake_checkpoint(tmp_path / "run.pt")
    assert events == ["fsync file", "replace", "fsync folder"]
