"""Faults through the app's real runner, the training child process: stop mid-epoch, a full disk,
a file-size limit. (tests/test_faults.py injects faults into the in-thread runner with monkeypatch.)"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mnist_core.app.jobs import Caps, JobManager
from mnist_core.app.runners import TrainingProcess
from mnist_core.checkpoint import read_checkpoint
from mnist_core.config import TrainConfig
from tests.support.fixtures import TINY
from tests.support.hold import RunHold, child_env
from tests.support.waiting import finished

pytestmark = pytest.mark.skipif(os.name != "posix", reason="the training process needs POSIX (fd passing)")

TIMEOUT = 600  # s: a guard against a hang, not a measure of speed


def _manager(folder: Path) -> JobManager:
    manager = JobManager(caps=Caps(), directory=lambda: folder)
    assert isinstance(manager.runner, TrainingProcess)  # the app's default runner
    return manager


def test_stop_in_the_middle_of_an_epoch_keeps_the_last_completed_one(tmp_path, monkeypatch):
    # The child holds the run at epoch 2's first step until the Stop reaches it: the stop lands inside
    # epoch 2 on any machine (a tiny run's epoch 2 can be over before a poll of the state sees it).
    for name, value in child_env(tmp_path / "held.txt", run=RunHold(epoch=2)).items():
        monkeypatch.setenv(name, value)
    jobs = _manager(tmp_path)
    try:
        jobs.start(TrainConfig(**{**TINY, "epochs": 50}))
        mid = jobs.wait_for(lambda s: s.epoch == 1 and s.steps_history and s.steps_history[-1]["epoch"] > 1, TIMEOUT)
        assert mid is not None, "epoch 2 never got under way"
        held_at = mid.steps_history[-1]["step"]
        jobs.stop()
        state = finished(jobs)
    finally:
        jobs.close()
    assert state.status == "stopped" and "after 1 completed epoch" in state.message, state.message
    assert state.steps_history[-1]["step"] == held_at  # no step event after the stop
    assert state.metrics["epochs_completed"] == 1 and "test_accuracy" in state.metrics
    payload = read_checkpoint(state.checkpoint)
    assert payload["stopped"] is True and len(payload["history"]["epochs"]) == 1
    assert payload["metrics"]["test_accuracy"] == state.metrics["test_accuracy"]


def _can_mount_tmpfs(where: Path) -> bool:
    if os.geteuid() != 0:
        return False
    where.mkdir(exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4k", "tmpfs", str(where)], capture_output=True)
    if mounted.returncode != 0:
        return False
    subprocess.run(["umount", str(where)], check=True)
    return True


def runs_written(folder: Path) -> list[str]:
    """What the runs left in `folder`: its files less the record of their owners (ownership.py)."""
    return sorted(p.name for p in folder.iterdir() if p.name != "owners.json")


@pytest.fixture
def small_disk(tmp_path, monkeypatch):
    """A real filesystem (tmpfs) with room for one checkpoint of TINY but not for two (the save's temporary
    copy next to the previous one): the save after epoch 2 hits a full disk. The disk fills while the run
    trains, as when another process fills it: the start's check of free space (disk_space.py) has passed."""
    monkeypatch.setattr("mnist_core.app.disk_space.needed_bytes", lambda cfg, runs=1: 0)
    disk = tmp_path / "disk"
    if not _can_mount_tmpfs(disk):
        pytest.skip("mounting a small tmpfs needs root and mount(2); test_a_file_size_limit_... covers writes anyway")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=320k", "tmpfs", str(disk)], check=True)
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=True)


def test_a_full_disk_fails_the_run_and_keeps_the_checkpoint_of_the_last_saved_epoch(small_disk):
    jobs = _manager(small_disk)
    try:
        jobs.start(TrainConfig(**{**TINY, "epochs": 5}))
        state = finished(jobs)
        assert jobs.runner.pid is not None  # the child reported the failure and lives on
    finally:
        jobs.close()
    assert state.status == "failed", state.message
    assert "No space left on device" in state.message and f"Epoch 1 was saved as {state.name}" in state.message
    assert state.error.startswith("CheckpointWriteError")
    payload = read_checkpoint(state.checkpoint)  # the epoch-1 file is intact
    assert len(payload["history"]["epochs"]) == 1
    assert runs_written(small_disk) == [f"{state.name}.pt"]  # no temporary file left behind


SET_FILE_SIZE_LIMIT = """
import resource, signal
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit then fails with EFBIG, as a full disk fails
resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))
"""


def test_a_file_size_limit_in_the_child_fails_the_run_cleanly(tmp_path, monkeypatch):
    """Any platform: the child's writes are capped with RLIMIT_FSIZE (set at its start by a sitecustomize)."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(textwrap.dedent(SET_FILE_SIZE_LIMIT.format(limit=64 * 1024)))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(hook), os.environ.get("PYTHONPATH")])))
    probe = subprocess.run(
        [sys.executable, "-c", "import resource; print(resource.getrlimit(resource.RLIMIT_FSIZE)[0])"],
        capture_output=True,
        text=True,
        env=os.environ,
    )
    assert probe.stdout.strip() == str(64 * 1024), "the sitecustomize hook did not run"
    folder = tmp_path / "runs"
    jobs = _manager(folder)
    try:
        jobs.start(TrainConfig(**{**TINY, "epochs": 2}))
        state = finished(jobs)
        child = jobs.runner.pid
    finally:
        jobs.close()
    assert state.status == "failed" and "File too large" in state.message, state.message
    assert state.error.startswith("CheckpointWriteError") and child is not None
    assert runs_written(folder) == []  # nothing half-written left behind
