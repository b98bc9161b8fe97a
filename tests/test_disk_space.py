"""A start is refused, naming the free and needed space, when the checkpoint folder's disk cannot hold the run."""

from collections import namedtuple

import pytest

from mnist_core.app import disk_space
from mnist_core.app.jobs import Caps, InThread, JobError, JobManager
from mnist_core.config import TrainConfig
from mnist_core.sweep import SweepSpec
from tests.support.fixtures import TINY

Usage = namedtuple("Usage", "total used free")


@pytest.fixture
def manager(tmp_path):
    def no_data():
        raise AssertionError("a refused start must not load MNIST")

    jobs = JobManager(caps=Caps(), directory=lambda: tmp_path, runner=InThread(no_data))
    yield jobs
    jobs.close()


def free_space(monkeypatch, free: int) -> None:
    monkeypatch.setattr(disk_space.shutil, "disk_usage", lambda folder: Usage(10 * 2**30, 0, free))


def test_the_bound_grows_with_the_model_and_the_trials():
    small, large = TrainConfig(**TINY), TrainConfig(model="cnn_large")
    assert disk_space.needed_bytes(large) > disk_space.needed_bytes(small) > disk_space.MARGIN
    weights = disk_space.weights_bytes(large)
    assert weights > 1_000_000  # cnn_large's checkpoint is about 1.8 MB
    assert disk_space.needed_bytes(large, runs=10) == 10 * disk_space.COPIES * weights + disk_space.MARGIN


def test_a_run_is_refused_when_the_disk_is_nearly_full(manager, monkeypatch, tmp_path):
    free_space(monkeypatch, 5 * 2**20)
    with pytest.raises(
        JobError, match=r"training is unavailable: the server's disk has 5 MB free .* needs about \d+ MB"
    ):
        manager.start(TINY)
    assert not manager.busy() and list(tmp_path.iterdir()) == []


def test_a_sweep_is_refused_for_all_its_trials(manager, monkeypatch):
    need_one = disk_space.needed_bytes(TrainConfig(model="cnn", epochs=1, train_size=10000))
    free_space(monkeypatch, need_one + 1)  # room for one trial, not for ten
    spec = SweepSpec(study="full-disk", trials=10, vary=("lr",), fixed="model=cnn,epochs=1,train_size=10000")
    with pytest.raises(JobError, match=r"sweeps are unavailable: .* MB free .* \(10 trials\)"):
        manager.start_sweep(spec)
    assert not manager.busy()


def test_enough_room_starts(manager, monkeypatch):
    free_space(monkeypatch, 2**40)
    assert manager.start({**TINY, "epochs": 1}).status == "starting"  # accepted: its thread then runs (and fails here)
