"""The fair line (issue 20): one job runs, the others wait first come first served, each owned by a visitor.

Every run here is real (the in-thread runner on tiny MNIST settings); the first run of each test is held at
its first step until it is stopped (tests/support/hold.py), so "while A trains" is a known point, not a race.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from mnist_core.app.jobs import QUEUE_FILE, Caps, InThread, JobBusyError, JobManager, QueueFullError
from mnist_core.config import TrainConfig
from mnist_core.sweep import SweepSpec
from tests.support.fixtures import TINY
from tests.support.hold import RunHold, hold_runs
from tests.support.waiting import finished, wait_for

A, B, C = "browser:a", "browser:b", "browser:c"


@pytest.fixture
def jobs(tmp_path: Path, mnist, monkeypatch):
    """A job manager whose first run (only) holds at its first step until it is stopped."""
    hold_runs(monkeypatch, RunHold(epoch=1, run=1))
    manager = JobManager(caps=Caps(max_queue=2), directory=lambda: tmp_path, runner=InThread(lambda: mnist))
    yield manager
    manager.close()


def held(jobs: JobManager) -> None:
    """Wait until the running job has reported its first step (where the hold keeps it)."""
    wait_for(lambda: jobs.snapshot().steps_history, "the first run's first step")


def test_a_second_visitor_waits_in_line_stop_is_per_owner_and_the_next_starts_by_itself(jobs, tmp_path):
    first = jobs.start(TrainConfig(**TINY), A)
    assert first.status == "starting" and first.owner == A
    held(jobs)
    queued = jobs.start(TrainConfig(**{**TINY, "seed": 1}), B)
    assert (queued.status, queued.position) == ("queued", 1)
    assert "Another visitor's run is training: epoch 1 of 1" in queued.message and "yours is next" in queued.message
    assert jobs.view(B).status == "queued" and jobs.queue_length() == 1

    refused = jobs.stop(C)  # C has nothing: A's run goes on
    assert "Another visitor's run is training" in refused.message and "Stop changed nothing" in refused.message
    assert jobs.snapshot().status == "running" and jobs.snapshot().owner == A
    assert jobs.view(C).status == "idle" and "Start puts yours in line" in jobs.view(C).message

    assert jobs.stop(A).status == "stopping"
    final = finished(jobs)  # A stopped, then B started by itself and trained to the end
    assert (final.owner, final.status, final.name) == (B, "done", queued.name)
    assert (tmp_path / f"{queued.name}.pt").exists()
    assert jobs.view(A).status == "stopped" and jobs.view(A).name == first.name  # A still sees how theirs ended
    assert jobs.view(B).status == "done"
    assert jobs.owners.owner_of(queued.name) == B and jobs.owners.owner_of(first.name) == A
    assert not (tmp_path / QUEUE_FILE).exists()  # nothing runs or waits: no record left


def test_two_starts_in_the_same_instant_one_runs_and_the_other_is_first_in_line(jobs):
    barrier, answers = threading.Barrier(2), {}

    def start(owner: str) -> None:
        barrier.wait()
        answers[owner] = jobs.start(TrainConfig(**TINY), owner)

    threads = [threading.Thread(target=start, args=(owner,)) for owner in (A, B)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = sorted((s.status, s.position) for s in answers.values())
    assert statuses == [("queued", 1), ("starting", None)], answers
    runner = next(owner for owner, s in answers.items() if s.status == "starting")
    waiter = next(owner for owner, s in answers.items() if s.status == "queued")
    assert answers[runner].name != answers[waiter].name  # two runs, two checkpoints
    held(jobs)
    jobs.stop(runner)
    final = finished(jobs)
    assert (final.owner, final.status, final.run_id) == (waiter, "done", 2)  # started once, after the first


def test_one_job_per_visitor_and_a_full_line_refuses_clearly(jobs):
    jobs.start(TrainConfig(**TINY), A)
    held(jobs)
    with pytest.raises(JobBusyError, match=r"A run is in progress .*one job at a time for each visitor"):
        jobs.start(TrainConfig(**TINY), A)
    jobs.start(TrainConfig(**TINY), B)
    with pytest.raises(JobBusyError, match=r"already in line \(#1\)"):
        jobs.start(TrainConfig(**TINY), B)
    jobs.start(TrainConfig(**TINY), C)  # max_queue=2: the line is now full
    with pytest.raises(QueueFullError, match=r"The line is full: 2 job\(s\) are waiting.*MNIST_MAX_QUEUE"):
        jobs.start(TrainConfig(**TINY), "browser:d")
    assert jobs.queue_length() == 2 and jobs.view(C).position == 2


def test_stop_on_a_queued_job_takes_it_out_of_the_line(jobs):
    jobs.start(TrainConfig(**TINY), A)
    held(jobs)
    queued = jobs.start(TrainConfig(**TINY), B)
    taken = jobs.stop(B)
    assert taken.status == "stopped" and "taken out of the line" in taken.message
    assert jobs.queue_length() == 0 and jobs.snapshot().owner == A and jobs.snapshot().status == "running"
    assert jobs.owners.owner_of(queued.name) is None  # it never trained
    jobs.stop(A)
    final = finished(jobs)
    assert final.owner == A and final.run_id == 1  # nothing else started
    assert jobs.view(B).status == "stopped"


def test_a_sweep_waits_in_the_same_line(jobs):
    jobs.start(TrainConfig(**TINY), A)
    held(jobs)
    fixed = "model=mlp,hidden_sizes=32,train_size=500,val_size=200,epochs=1,batch_size=128"
    queued = jobs.start_sweep(SweepSpec("waits", trials=1, vary=["lr"], fixed=fixed, prune=False), B)
    assert (queued.kind, queued.status, queued.position) == ("sweep", "queued", 1)
    assert "waits" in jobs.protected_runs()
    jobs.stop(A)
    final = finished(jobs)
    assert (final.kind, final.owner, final.status) == ("sweep", B, "done")
    assert jobs.owners.owner_of("waits-trial0") == B


def test_a_restart_tells_the_owners_of_the_jobs_it_dropped(jobs, tmp_path, mnist):
    running = jobs.start(TrainConfig(**TINY), A)
    held(jobs)
    queued = jobs.start(TrainConfig(**TINY), B)
    record = json.loads((tmp_path / QUEUE_FILE).read_text())
    assert record["running"]["owner"] == A and [e["owner"] for e in record["queued"]] == [B]

    restarted = JobManager(caps=Caps(), directory=lambda: tmp_path, runner=InThread(lambda: mnist))
    assert restarted.view(B).message == (
        f"Your queued run {queued.name} was dropped when the server restarted; press Start again."
    )
    assert restarted.view(B).status == "idle"
    assert running.name in restarted.view(A).message and "interrupted" in restarted.view(A).message
    assert restarted.view(C).message == "No run yet."
    assert not (tmp_path / QUEUE_FILE).exists()  # told once
    jobs.close()  # the first server goes away without starting B
    assert jobs.queue_length() == 1 and jobs.snapshot().run_id == 1
