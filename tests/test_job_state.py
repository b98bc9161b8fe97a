"""Folding progress events into the state the page polls: pure functions, tested without threads or training."""

from __future__ import annotations

import copy

from mnist_core.app.job_state import JobState, SweepProgress, fold_sweep_event, fold_train_event, progress_text
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
