"""Folding progress events into the state the page polls: pure functions, tested without threads or training."""

from __future__ import annotations

import copy

import pytest

from mnist_core.app.job_state import (
    JobState,
    SweepProgress,
    api_status,
    caller_view,
    fold_sweep_event,
    fold_train_event,
    make_line,
    progress_text,
    remaining_seconds,
    stop_refusal,
)
from mnist_core.sweep import SweepEvent, SweepResult
from mnist_core.train import TrainEvent


def _event(kind: str, **fields) -> TrainEvent:
    base = dict(epoch=1, epochs=2, step=10, steps=20, elapsed=1.0, lr=0.01)
    return TrainEvent(kind=kind, **{**base, **fields})


def _running_run() -> JobState:
    return JobState(run_id=1, status="running", epochs=2, name="cnn-1", config={"model": "cnn"})


def test_a_run_folds_step_epoch_and_end_into_progress_curves_and_message():
    s = fold_train_event(_running_run(), _event("start", epoch=0, step=0))
    s = fold_train_event(s, _event("step", loss=0.5, samples_per_sec=1234.0, snapshot={"answers": [1]}))
    assert s.progress == 0.5 and s.steps_history == [{"step": 10, "epoch": 1.0, "loss": 0.5}]
    assert s.learning == {"answers": [1], "step": 10, "steps": 20}
    assert s.message == "Training cnn: epoch 1/2, step 10/20, loss 0.5000, 1,234 images/s"
    s = fold_train_event(s, _event("epoch", metrics={"epoch": 1, "train_loss": 0.4, "val_acc": 0.9}))
    assert s.epoch == 1 and s.epochs_history == [{"epoch": 1, "train_loss": 0.4, "val_acc": 0.9}]
    assert s.message == "Epoch 1/2 done: train loss 0.4000, val acc 90.00%"
    end = _event("end", epoch=2, step=20, metrics={"epochs_completed": 2, "test_accuracy": 0.95}, message="done")
    s = fold_train_event(s, end)
    assert (s.status, s.progress, s.epoch) == ("done", 1.0, 2)
    assert s.message == "Run finished: test accuracy 95.00%; saved as cnn-1."


def test_folding_leaves_the_state_it_was_given_unchanged():
    before = _running_run()
    kept = copy.deepcopy(before)
    after = fold_train_event(before, _event("step", loss=0.5))
    assert before == kept and after is not before and after.steps_history != before.steps_history


def test_a_stopped_run_keeps_its_progress_and_says_why():
    s = JobState(status="stopping", timed_out=True, epochs=2, epoch=1, name="cnn-1", config={"model": "cnn"})
    end = _event(
        "end", metrics={"epochs_completed": 1, "test_accuracy": 0.9}, message="stopped after 1 completed epoch(s)"
    )
    s = fold_train_event(s, end, time_limit=30.0)
    assert (s.status, s.progress) == ("stopped", 0.5)
    assert s.message == (
        "Run stopped after 1 completed epoch(s) (time limit of 30 s reached): test accuracy 90.00%; saved as cnn-1."
    )


def test_a_stopping_run_says_so_in_its_step_message():
    s = JobState(status="stopping", epochs=2, config={"model": "mlp"})
    assert fold_train_event(s, _event("step", loss=0.1)).message.startswith("Stopping mlp: epoch 1/2")


def test_events_that_change_nothing_return_the_same_state():
    s = _running_run()
    assert fold_train_event(s, _event("val", metrics={"val_acc": 0.5})) is s  # the manager then skips a version


def _sweep() -> JobState:
    return JobState(kind="sweep", status="running", name="s1", sweep=SweepProgress(study="s1", trials=2))


def test_a_sweep_counts_its_trials_and_follows_the_running_ones_curves():
    s = fold_sweep_event(_sweep(), SweepEvent("trial_start", trial=7, params={"lr": 0.012345, "batch_size": 64}))
    assert (s.sweep.index, s.sweep.trial, s.name, s.progress) == (1, 7, "s1-trial7", 0.0)
    assert s.message == "Sweep s1: trial 1 of 2 (#7): lr=0.0123, batch_size=64"
    s = fold_sweep_event(s, SweepEvent("step", trial=7, train=_event("step", loss=0.3)))
    assert s.progress == 0.25 and len(s.steps_history) == 1
    s = fold_sweep_event(s, SweepEvent("epoch", trial=7, train=_event("epoch", metrics={"train_loss": 0.3})))
    assert s.epoch == 1 and s.epochs_history == [{"train_loss": 0.3}]
    s = fold_sweep_event(s, SweepEvent("trial_end", trial=7, value=0.97, state="COMPLETE", message="saved"))
    assert (s.sweep.finished, s.sweep.complete, s.progress) == (1, 1, 0.5)
    assert s.message == "Sweep s1: trial 1 of 2 complete (val accuracy 97.00%): saved"
    s = fold_sweep_event(s, SweepEvent("trial_start", trial=8))
    assert s.steps_history == [] and s.epochs_history == [] and s.sweep.index == 2  # the new trial's curves
    s = fold_sweep_event(s, SweepEvent("trial_end", trial=8, state="PRUNED"))
    assert (s.sweep.pruned, s.sweep.failed) == (1, 0)


def test_a_sweeps_result_ends_it_with_its_best_trial():
    s = fold_sweep_event(_sweep(), SweepEvent("trial_start", trial=0))
    s = fold_sweep_event(s, SweepEvent("trial_end", trial=0, value=0.9, state="COMPLETE"))
    result = SweepResult(
        study="s1",
        storage="sqlite://",
        complete=1,
        pruned=0,
        failed=0,
        running=0,
        ran={"complete": 1, "pruned": 0, "failed": 0},
        best_trial=0,
        best_value=0.9,
        best_params={},
        best_checkpoint=None,
        seconds=1.0,
        stopped="time cap",
    )
    s = fold_sweep_event(s, result)
    assert (s.status, s.timed_out, s.sweep.best_trial, s.sweep.result) == ("stopped", True, 0, result.to_dict())
    assert s.message == (
        "Sweep s1 stopped (time limit reached): 1 complete, 0 pruned, 0 failed of 1 trial(s) run."
        " Best: trial 0, val accuracy 90.00%."
    )


def test_progress_text_names_the_epoch_or_the_trial():
    assert progress_text(JobState(status="running", epoch=1, epochs=3, progress=0.4)) == "epoch 2/3, 40%"
    sweep = JobState(kind="sweep", progress=0.25, sweep=SweepProgress(study="s", trials=4))
    assert progress_text(sweep) == "trial 1 of 4, 25%"


# ----------------------------------------------------------------------------- the line, as one visitor sees it
def _training(owner: str = "browser:a", **changes) -> JobState:
    base = dict(run_id=1, status="running", epochs=5, epoch=1, progress=0.3, elapsed=30.0, name="cnn-1", owner=owner)
    return JobState(**{**base, **changes})


def _waiting(owner: str, name: str, expected: float | None = 60.0) -> JobState:
    return JobState(status="starting", name=name, owner=owner, expected_seconds=expected, epochs=1)


def test_the_remaining_time_comes_from_the_pace_else_the_estimate_and_never_passes_the_cap():
    assert remaining_seconds(_training()) == pytest.approx(70.0)  # 30 s for 30%: 70 s more
    assert remaining_seconds(_training(progress=0.0, expected_seconds=50.0)) == pytest.approx(20.0)
    assert remaining_seconds(_training(progress=0.0)) is None  # no pace, no estimate
    assert remaining_seconds(_training(), limit=40.0) == pytest.approx(10.0)  # the time cap ends it sooner
    assert remaining_seconds(_training(status="done")) == 0.0


def test_each_job_in_line_waits_for_the_running_one_and_every_one_ahead():
    line = make_line(_training(), [_waiting("browser:b", "b"), _waiting("browser:c", "c", None)], 70.0)
    assert [(j.position, j.wait_seconds) for j in line.waiting] == [(1, 70.0), (2, 130.0)]
    assert line.next_wait is None  # c's length is unknown: so is the wait of whoever joins next


def test_a_queued_visitor_sees_whose_run_trains_their_place_and_when_theirs_starts():
    line = make_line(_training(), [_waiting("browser:b", "b"), _waiting("browser:c", "c")], 20.0)
    b = caller_view("browser:b", line)
    assert (b.status, b.position, b.wait_seconds) == ("queued", 1, 20.0)
    assert b.message.startswith("Another visitor's run is training: epoch 2 of 5, about 20 s left; yours is next, ")
    assert "expected to start in about 20 s" in b.message
    c = caller_view("browser:c", line)
    assert "yours is #2 in line (1 job ahead of it), expected to start in about 1 min 20 s" in c.message
    assert caller_view("browser:a", line) == line.current  # the owner sees their own running job
    idle = caller_view("browser:d", line)
    assert idle.status == "idle" and "2 waiting in line" in idle.message and "about 2 min 20 s" in idle.message
    ended = JobState(status="done", message="Run finished.", owner="browser:d")
    assert caller_view("browser:d", line, ended) is ended  # their last run, until they start another
    assert caller_view("browser:d", make_line(JobState(), [], 0.0)) == JobState()  # nothing at all: as before


def test_stop_from_a_visitor_with_nothing_says_whose_job_goes_on():
    line = make_line(_training(kind="sweep", sweep=SweepProgress(study="s", trials=4, index=2)), [], 20.0)
    assert stop_refusal(line, "browser:z").startswith(
        "Another visitor's sweep is running: trial 2 of 4, about 20 s left; Stop changed nothing"
    )
    assert stop_refusal(make_line(JobState(), [], 0.0), "browser:z").startswith("No run in progress")


def test_the_api_status_names_starting_and_stopping_running():
    assert [api_status(JobState(status=s)) for s in ("starting", "stopping", "queued", "done", "idle")] == [
        "running",
        "running",
        "queued",
        "done",
        "idle",
    ]
