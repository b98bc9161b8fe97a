"""The Sweep tab: a sweep as the server's one job (handlers, JobManager, caps, the training child)."""

from __future__ import annotations

import os
import threading

import gradio as gr
import pandas as pd
import plotly.graph_objects as go
import pytest

from mnist_core.app.jobs import Caps, InThread, JobBusyError, JobError, JobManager
from mnist_core.app.registry import RunRegistry
from mnist_core.app.runners import TrainingProcess
from mnist_core.checkpoint import read_checkpoint
from mnist_core.config import TrainConfig
from mnist_core.search_space import SearchSpaceError
from mnist_core.sweep import SweepError, SweepSpec
from tests.support.fixtures import TINY
from tests.support.hold import RunHold, hold_runs
from tests.support.lab import Lab
from tests.support.waiting import finished, wait_for

FIXED = "model=mlp,hidden_sizes=64,train_size=1000,val_size=300,epochs=1,batch_size=64"
VARY = ["lr", "dropout"]


def test_a_sweep_runs_as_the_servers_job_and_its_trials_become_runs(lab: Lab):
    message = lab.sweep.start_sweep(VARY, FIXED, 2, "tiny")
    assert "Started sweep **tiny**" in message
    s = finished(lab.ctx.jobs)
    assert s.kind == "sweep" and s.status == "done", s.message
    sw = s.sweep
    assert sw.index == 2 and sw.complete + sw.pruned + sw.failed == 2 and sw.complete >= 1
    assert "Sweep tiny finished" in s.message and "Best: trial" in s.message

    status = lab.sweep.sweep_status()
    assert status["status"] == "done" and status["study"] == "tiny" and status["trials"] == 2
    assert status["best_trial"] == status["result"]["best_trial"] is not None

    # Each completed trial is a run, marked with its study in the Runs table and checkpoint.
    best = f"tiny-trial{status['best_trial']}"
    assert best in lab.ctx.registry.names()
    assert read_checkpoint(lab.folder / f"{best}.pt")["sweep"] == {"study": "tiny", "trial": status["best_trial"]}
    table, _ = lab.runs.runs_table()
    assert f"tiny #{status['best_trial']}" in table.data["study"].tolist()

    # The page's poll sends the three figures and the trials table once, then nothing until a change.
    progress, text, history, parallel, importance, trials, note, stop, seen = lab.sweep.poll({})
    assert 'data-status="done"' in progress and "trial 2 of 2" in progress and text == s.message
    assert isinstance(history, go.Figure) and isinstance(parallel, go.Figure)
    assert isinstance(importance, go.Figure) or "importances" in note
    assert isinstance(trials, pd.DataFrame) and sorted(trials["trial"]) == [0, 1]
    assert best in trials["checkpoint"].tolist() and not any("/" in c for c in trials["checkpoint"])  # no server paths
    again = lab.sweep.poll(seen)
    assert all(isinstance(out, type(gr.skip())) for out in again[:7])

    picker, said = lab.sweep.make_best_active()
    assert picker.value == best and "best trial" in said


def test_the_sweep_tab_still_shows_the_latest_sweep_after_a_training_run(lab: Lab):
    lab.sweep.start_sweep(VARY, FIXED, 2, "before")
    assert finished(lab.ctx.jobs).kind == "sweep"
    lab.train.start_training(**TINY)
    assert finished(lab.ctx.jobs).kind == "run"  # the server's latest job is now a training run

    status = lab.sweep.sweep_status()
    assert status["status"] == "done" and status["study"] == "before" and status["trials"] == 2
    progress, _, history, *_, trials, _, _, _ = lab.sweep.poll({})
    assert "trial 2 of 2" in progress and isinstance(history, go.Figure) and sorted(trials["trial"]) == [0, 1]
    picker, said = lab.sweep.make_best_active()
    assert picker.value.startswith("before-trial") and "best trial" in said


def test_a_sweep_is_refused_while_a_run_trains_and_a_run_while_a_sweep_runs(lab: Lab, mnist):
    release = threading.Event()

    def slow_loader():
        release.wait(60)  # hold the job in its loading phase
        return mnist

    lab.ctx.jobs.runner = InThread(slow_loader)
    lab.ctx.jobs.start(TrainConfig(**TINY))
    with pytest.raises(gr.Error, match=r"A run is in progress .*one job at a time"):
        lab.sweep.start_sweep(VARY, FIXED, 2, "refused")
    assert lab.sweep.stop_sweep() == "No sweep in progress."  # the sweep tab's Stop leaves a run alone
    lab.ctx.jobs.stop()
    release.set()
    finished(lab.ctx.jobs)

    release.clear()
    lab.sweep.start_sweep(VARY, FIXED, 2, "busy")
    with pytest.raises(JobBusyError, match=r"A sweep is in progress \(trial 1 of 2"):
        lab.ctx.jobs.start(TrainConfig(**TINY))
    with pytest.raises(gr.Error, match="A sweep is in progress"):
        lab.train.start_training(**TINY)
    assert "Stopping" in lab.sweep.stop_sweep()
    release.set()
    s = finished(lab.ctx.jobs)
    assert s.status == "stopped" and s.sweep.complete == 0


def test_stop_ends_the_running_trial_and_keeps_the_completed_ones(lab: Lab, monkeypatch):
    # The second trial holds at its first step until Stop reaches it: however fast trials are, the
    # stop lands in trial 2 (a poll of the state could see trial 2 begin only after all 5 ended).
    held = hold_runs(monkeypatch, RunHold(epoch=1, run=2))
    jobs = lab.ctx.jobs
    jobs.start_sweep(SweepSpec("stopme", trials=5, vary=VARY, fixed=FIXED, prune=False))
    wait_for(held.is_set, "the second trial's first step")
    jobs.stop()
    s = finished(jobs)
    assert s.status == "stopped" and "stopped" in s.message, s.message
    assert s.sweep.complete == 1 and s.sweep.index == 2, s.sweep
    kept = sorted(p.stem for p in lab.folder.glob("stopme-trial*.pt"))
    assert kept == ["stopme-trial0"]  # the stopped trial is failed, its partial run is not offered
    assert lab.sweep.sweep_status()["result"]["stopped"] == "stop"


def test_sweep_caps_come_from_the_environment_and_are_enforced(lab: Lab, monkeypatch):
    caps = Caps.from_env({"MNIST_MAX_SWEEP_TRIALS": "3", "MNIST_MAX_SWEEP_SECONDS": "60"})
    assert (caps.max_sweep_trials, caps.max_sweep_seconds) == (3, 60.0)
    assert "at most 3 trials per sweep" in caps.describe() and "sweeps stop after 60 s" in caps.describe()
    space = Caps.from_env({"SPACE_ID": "someone/mnist"})  # a public Space is capped by default
    assert space.max_sweep_trials is not None and space.max_sweep_seconds is not None
    assert Caps.from_env({"SPACE_ID": "x", "MNIST_MAX_SWEEP_TRIALS": "50"}).max_sweep_trials == 50
    assert Caps.from_env({}).max_sweep_trials is None

    def refused(caps: Caps, spec: SweepSpec, match: str, error=JobError) -> None:
        with pytest.raises(error, match=match):
            JobManager(caps=caps, runner=InThread()).start_sweep(spec)

    refused(Caps(training_disabled=True), SweepSpec("a", 2, fixed=FIXED), "sweeps are disabled")
    refused(Caps(max_sweep_trials=3), SweepSpec("a", 4, fixed=FIXED), "trials: 4 is above this server's limit of 3")
    refused(Caps(max_epochs=1), SweepSpec("a", 2, fixed="epochs=2"), "epochs: 2 is above this server's limit of 1")
    refused(Caps(max_epochs=1), SweepSpec("a", 2, vary="lr,epochs", fixed="model=cnn"), "epochs cannot be varied")
    refused(Caps(), SweepSpec("a", 2, vary="lr,nonsense"), "unknown field.*nonsense", SearchSpaceError)
    refused(Caps(), SweepSpec("a b", 2), "study name", SweepError)
    with pytest.raises(gr.Error, match="trials: 0 is not a positive number"):
        lab.sweep.start_sweep(VARY, FIXED, 0, "zero")


def test_the_sweep_time_cap_stops_the_sweep_and_keeps_what_completed(lab: Lab):
    jobs = JobManager(caps=Caps(max_sweep_seconds=0.01), runner=lab.ctx.jobs.runner)
    state = jobs.start_sweep(SweepSpec("capped", trials=5, vary=VARY, fixed=FIXED))
    assert state.kind == "sweep"
    s = finished(jobs)
    assert s.status == "stopped" and s.timed_out and "time limit reached" in s.message, s.message
    assert s.sweep.index <= 1


@pytest.mark.skipif(os.name != "posix", reason="the training process needs POSIX (fd passing)")
def test_a_tiny_sweep_runs_in_the_training_child(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_CHECKPOINT_DIR", str(tmp_path))
    jobs = JobManager(caps=Caps(max_epochs=1))
    assert isinstance(jobs.runner, TrainingProcess)
    try:
        jobs.start_sweep(SweepSpec("child", trials=2, vary=VARY, fixed=FIXED))
        s = finished(jobs)
        pid = jobs.runner.pid
        assert pid is not None and pid != os.getpid()
    finally:
        jobs.close()
    assert s.status == "done" and s.sweep.index == 2, s.message
    assert s.sweep.result["complete"] == s.sweep.complete >= 1
    assert s.steps_history, "the child's step events reach the page"
    trials = sorted(tmp_path.glob("child-trial*.pt"))
    assert len(trials) == s.sweep.complete
    assert read_checkpoint(trials[0])["sweep"]["study"] == "child"
    assert (tmp_path / "sweeps.db").exists()
    assert {run.name for run in RunRegistry().listing().runs if run.sweep} == {p.stem for p in trials}


def test_the_pages_errors_name_its_fields_not_the_command_lines_flags(lab: Lab):
    with pytest.raises(gr.Error) as refused:
        lab.sweep.start_sweep(VARY, "model=foo", 2, "named")
    assert refused.value.message.startswith("Fixed fields: model: 'foo'") and "--fix" not in refused.value.message


def test_the_trials_table_has_headers_before_any_study(lab: Lab):
    with gr.Blocks():
        view = lab.sweep.build(gr.Dropdown(["default"]))
    headers = ["trial", "state", "val accuracy", "test accuracy", "train time (s)", "checkpoint"]
    assert list(view.table.value["headers"]) == headers  # not Gradio's "1 2 3"


def test_the_trials_table_shows_accuracies_with_four_decimals_each():
    from mnist_core.app.tabs.sweep import _shown

    table = pd.DataFrame({"trial": [1, 0], "val_acc": [0.961, 0.95881], "test_acc": [None, 0.9], "seconds": [1.0, 2.0]})
    shown = _shown(table)
    assert list(shown["val accuracy"]) == ["0.9610", "0.9588"] and list(shown["test accuracy"]) == ["", "0.9000"]
