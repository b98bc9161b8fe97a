"""MNIST_MAX_TRAIN_SECONDS is a deadline from start(): it covers loading the data, not only training steps."""

from __future__ import annotations

import os

import pytest

from mnist_core.app.jobs import Caps, InThread, JobManager
from mnist_core.app.runners import TrainingProcess
from mnist_core.config import TrainConfig
from tests.support.fixtures import TINY
from tests.support.hold import RunHold, child_env
from tests.support.waiting import finished


def test_the_deadline_passes_while_the_data_is_still_loading(mnist, tmp_path):
    seen_while_loading = []

    def slow_loader():
        # "Loading" lasts until the server has noticed the deadline (or 60 s, which fails the test).
        seen_while_loading.append(jobs.wait_for(lambda s: s.timed_out, 60))
        return mnist

    jobs = JobManager(caps=Caps(max_train_seconds=0.05), directory=lambda: tmp_path, runner=InThread(slow_loader))
    jobs.start(TrainConfig(**{**TINY, "epochs": 3}))
    state = finished(jobs)
    assert seen_while_loading[0] is not None, "the time cap was not enforced while MNIST was loading"
    assert state.status == "stopped" and state.timed_out
    assert "time limit of 0.05 s reached" in state.message and "nothing saved" in state.message
    assert state.steps_history == [] and state.epoch == 0 and not list(tmp_path.glob("*.pt"))


@pytest.mark.skipif(os.name != "posix", reason="the training process needs POSIX (fd passing)")
def test_a_cold_training_process_is_stopped_before_it_trains_when_the_deadline_passes_while_it_starts(
    tmp_path, monkeypatch
):
    """The real runner: the child is still importing torch and loading MNIST when the cap is reached.
    Should the child ever start first, it holds the run at its start until the stop arrives."""
    for name, value in child_env(tmp_path / "held.txt", run=RunHold(epoch=None)).items():
        monkeypatch.setenv(name, value)
    jobs = JobManager(caps=Caps(max_train_seconds=0.01), directory=lambda: tmp_path)
    assert isinstance(jobs.runner, TrainingProcess) and jobs.runner.pid is None  # cold: not warmed up
    try:
        jobs.start(TrainConfig(**{**TINY, "epochs": 3}))
        state = finished(jobs)
    finally:
        jobs.close()
    assert state.status == "stopped" and state.timed_out and "nothing saved" in state.message
    assert state.steps_history == [] and not list(tmp_path.glob("*.pt"))
