"""The training child process the app trains in: progress, stop, caps, failures, a killed child."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from mnist_core.app.jobs import Caps, JobManager
from mnist_core.app.runners import TrainingProcess
from mnist_core.app.train_process import TRAINING_NICENESS, lower_priority
from mnist_core.checkpoint import read_checkpoint
from mnist_core.config import TrainConfig
from tests.support.fixtures import TINY

pytestmark = pytest.mark.skipif(os.name != "posix", reason="the training process needs POSIX (fd passing)")

TIMEOUT = 300


@pytest.fixture
def jobs(tmp_path: Path):
    manager = JobManager(caps=Caps(), directory=lambda: tmp_path)
    assert isinstance(manager.runner, TrainingProcess)  # the app's default
    yield manager
    manager.close()


def finished(jobs: JobManager):
    assert jobs.wait(TIMEOUT), "the run did not end in time"
    return jobs.snapshot()


def test_a_run_trains_in_a_child_that_stays_up_for_the_next_run(jobs, tmp_path):
    jobs.warm_up()
    child = jobs.runner.pid
    assert child is not None and child != os.getpid()
    jobs.start(TrainConfig(**TINY))
    state = finished(jobs)
    assert state.status == "done", state.message
    assert state.steps_history and len(state.epochs_history) == 1
    assert state.metrics["test_accuracy"] > 0.85, state.metrics
    assert read_checkpoint(state.checkpoint)["metrics"]["test_accuracy"] == state.metrics["test_accuracy"]
    jobs.start(TrainConfig(**{**TINY, "seed": 1}))
    assert finished(jobs).status == "done"
    assert jobs.runner.pid == child  # warm: torch and MNIST were not loaded again


def test_the_child_trains_at_a_lower_priority_than_the_server(jobs):
    # The page (drawing, polls) must not queue behind a run on a 2-core machine.
    jobs.start(TrainConfig(**TINY))
    assert finished(jobs).status == "done"  # the child has run its main()
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    if ours >= 19:
        pytest.skip("these tests already run at the lowest priority: the child cannot go lower")
    assert os.getpriority(os.PRIO_PROCESS, jobs.runner.pid) - ours == min(TRAINING_NICENESS, 19 - ours)


def test_a_system_that_refuses_a_lower_priority_still_trains(monkeypatch, caplog):
    def refused(increment):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "nice", refused)
    lower_priority()  # the child would otherwise die before its first run
    assert "server's priority" in caplog.text


def test_stop_reaches_the_child_and_keeps_the_last_completed_epoch(jobs):
    jobs.start(TrainConfig(**{**TINY, "epochs": 100}))
    assert jobs.wait_for(lambda s: s.epoch >= 1, TIMEOUT), "no epoch completed"
    jobs.stop()
    state = finished(jobs)
    assert state.status == "stopped" and 1 <= state.metrics["epochs_completed"] < 100
    assert read_checkpoint(state.checkpoint)["metrics"]["epochs_completed"] == state.metrics["epochs_completed"]


def test_the_time_cap_stops_a_run_in_the_child(tmp_path):
    jobs = JobManager(caps=Caps(max_train_seconds=0.01), directory=lambda: tmp_path)
    try:
        jobs.start(TrainConfig(**{**TINY, "epochs": 100}))
        state = finished(jobs)
    finally:
        jobs.close()
    assert state.status == "stopped" and state.timed_out and "time limit" in state.message
    assert state.epoch < 100


def test_an_error_in_the_child_is_reported_with_its_type_and_the_child_lives_on(jobs, tmp_path):
    jobs.start(TrainConfig(**{**TINY, "epochs": 100}))
    assert jobs.wait_for(lambda s: s.status == "running", TIMEOUT)
    tmp_path.rename(tmp_path.with_name(tmp_path.name + "-moved"))  # the run's folder disappears mid-run
    tmp_path.write_text("a file where the checkpoint folder was")
    state = finished(jobs)
    assert state.status == "failed" and "Run failed" in state.message
    assert state.error.split(":")[0] in ("CheckpointWriteError", "NotADirectoryError", "FileNotFoundError")
    child = jobs.runner.pid
    assert child is not None  # the child reported the error and waits for the next run


def test_a_killed_child_fails_the_run_keeps_its_epochs_and_a_new_child_takes_the_next(jobs):
    jobs.start(TrainConfig(**{**TINY, "epochs": 100}))
    assert jobs.wait_for(lambda s: s.epoch >= 1, TIMEOUT), "no epoch completed"
    first = jobs.runner.pid
    os.kill(first, signal.SIGKILL)  # what the kernel's OOM killer would do
    state = finished(jobs)
    assert state.status == "failed" and "ended unexpectedly (killed by signal 9)" in state.message
    assert f"was saved as {state.name}" in state.message
    assert read_checkpoint(state.checkpoint)["metrics"]["epochs_completed"] >= 1
    jobs.start(TrainConfig(**TINY))
    assert finished(jobs).status == "done"
    assert jobs.runner.pid not in (None, first)


def test_the_child_exits_when_the_manager_closes(jobs):
    jobs.warm_up()
    proc = jobs.runner._proc
    jobs.close()
    assert proc.wait(30) == 0 and jobs.runner.pid is None


def test_the_child_finds_the_package_wherever_the_app_was_started(tmp_path, monkeypatch):
    # `python /path/to/app.py` from another folder: the child's `-m mnist_core...` must still import.
    monkeypatch.setenv("MNIST_DATA_DIR", str(Path("data").resolve()))
    monkeypatch.delenv("PYTHONPATH", raising=False)
    monkeypatch.chdir(tmp_path)
    jobs = JobManager(caps=Caps(), directory=lambda: tmp_path)
    try:
        jobs.start(TrainConfig(**TINY))
        state = finished(jobs)
    finally:
        jobs.close()
    assert state.status == "done", state.message
