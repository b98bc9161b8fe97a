"""The state the page polls about the server's job, and how progress events fold into it.

`fold_train_event(state, event)` and `fold_sweep_event(state, event)` are pure: they return a new
JobState and leave theirs as it was, so they are tested without threads or training (tests/test_job_state.py).
The job manager (jobs.py) holds the lock, folds each event its runner reports, and bumps `version`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from ..sweep import SweepResult


@dataclass(frozen=True)
class SweepProgress:
    """A sweep's standing, counted by this server's job (the study may hold other workers' trials too)."""

    study: str
    trials: int  # asked for
    index: int = 0  # trials started here
    trial: int | None = None  # the running (or last) trial's study-wide number
    finished: int = 0  # trials ended here
    complete: int = 0
    pruned: int = 0
    failed: int = 0
    best_trial: int | None = None  # at the end (the SweepResult's)
    best_value: float | None = None
    result: dict | None = None  # the SweepResult as a dict, at the end


@dataclass
class JobState:
    """What the UI shows about the current (or last) job. A snapshot is a deep copy: safe to read."""

    run_id: int = 0  # increases with every started job
    version: int = 0  # increases with every change, so a poller can skip unchanged states
    status: str = "idle"  # idle | starting | running | stopping | done | stopped | failed
    message: str = "No run yet."
    progress: float = 0.0  # 0..1 over the steps of the run (a sweep: over its trials)
    epoch: int = 0  # epochs completed
    epochs: int = 0
    elapsed: float = 0.0  # seconds since the job started (loading and validation included)
    name: str = ""  # checkpoint name (file stem); a sweep's study, then its running trial's run
    checkpoint: str = ""  # path of the checkpoint file
    config: dict = field(default_factory=dict)
    steps_history: list[dict] = field(default_factory=list)  # {'step', 'epoch', 'loss'}
    epochs_history: list[dict] = field(default_factory=list)  # {'epoch', 'train_loss', 'val_acc', ...}
    metrics: dict = field(default_factory=dict)  # final metrics ('end' event; a sweep's result)
    error: str = ""
    timed_out: bool = False  # stopped by a time cap
    learning: dict | None = None  # the latest step's probe snapshot (train_process.learning_probe)
    kind: str = "run"  # run | sweep
    sweep: SweepProgress | None = None  # a sweep's standing (kind == "sweep")

    @property
    def active(self) -> bool:
        """Whether the job is still going (starting, running or stopping)."""
        return self.status in ("starting", "running", "stopping")


def progress_text(s: JobState) -> str:
    """Where the job is, in a few words: 'epoch 2/5, 40%' or 'trial 3 of 10, 25%'."""
    if s.kind == "sweep" and s.sweep is not None:
        return f"trial {max(s.sweep.index, 1)} of {s.sweep.trials}, {s.progress:.0%}"
    epoch = min(s.epoch + 1, s.epochs) if s.status != "done" else s.epoch
    return f"epoch {max(epoch, 1)}/{s.epochs}, {s.progress:.0%}"


def fold_train_event(s: JobState, event: Any, *, time_limit: float | None = None) -> JobState:
    """The state after one TrainEvent of a run; `time_limit` (the server's cap, seconds) names a timed-out stop."""
    progress = event.step / event.steps if event.steps else 0.0
    if event.kind == "start":
        return replace(s, epochs=event.epochs)
    if event.kind == "step":
        point = {"step": event.step, "epoch": event.step / max(event.steps, 1) * event.epochs, "loss": event.loss}
        learning = {**event.snapshot, "step": event.step, "steps": event.steps} if event.snapshot else s.learning
        return replace(
            s,
            steps_history=[*s.steps_history, point],
            learning=learning,
            progress=progress,
            message=(
                f"{'Stopping' if s.status == 'stopping' else 'Training'} {s.config.get('model')}: "
                f"epoch {event.epoch}/{event.epochs}, step {event.step}/{event.steps}, "
                f"loss {event.loss:.4f}, {event.samples_per_sec:,.0f} images/s"
            ),
        )
    if event.kind == "epoch":
        m = event.metrics
        val = f", val acc {m['val_acc']:.2%}" if "val_acc" in m else ""
        return replace(
            s,
            epochs_history=[*s.epochs_history, dict(m)],
            epoch=event.epoch,
            progress=progress,
            message=f"Epoch {event.epoch}/{event.epochs} done: train loss {m['train_loss']:.4f}{val}",
        )
    if event.kind == "end":
        m = dict(event.metrics)
        stopped = event.message.startswith("stopped")
        result = (
            f": test accuracy {m.get('test_accuracy', 0):.2%}; saved as {s.name}." if m.get("epochs_completed") else "."
        )
        if stopped:
            limit = f" (time limit of {time_limit:g} s reached)" if s.timed_out and time_limit is not None else ""
            message = f"Run {event.message}{limit}{result}"
        else:
            late = " (the time limit passed during the final test evaluation)" if s.timed_out else ""
            message = f"Run finished{result}{late}"
        return replace(
            s,
            status="stopped" if stopped else "done",
            metrics=m,
            epoch=event.epoch,
            progress=1.0 if not stopped else progress,
            message=message,
        )
    return s  # 'val' events are for sweeps' pruning


def fold_sweep_event(s: JobState, event: Any) -> JobState:
    """The state after one SweepEvent of a sweep, or after its closing SweepResult."""
    sw = s.sweep
    assert sw is not None, "a sweep's state carries its SweepProgress"
    if isinstance(event, SweepResult):
        return _sweep_ended(s, sw, event.to_dict())
    n = max(sw.trials, 1)
    if event.kind == "trial_start":
        sw = replace(sw, index=sw.index + 1, trial=event.trial)
        params = ", ".join(f"{k}={_short(v)}" for k, v in event.params.items())
        return replace(
            s,
            sweep=sw,
            steps_history=[],  # the curves follow the running trial
            epochs_history=[],
            epoch=0,
            progress=(sw.index - 1) / n,
            name=f"{sw.study}-trial{event.trial}",
            message=f"Sweep {sw.study}: trial {sw.index} of {sw.trials} (#{event.trial}): {params}",
        )
    if event.kind == "step" and event.train is not None:
        t = event.train
        head = f"{'Stopping' if s.status == 'stopping' else 'Sweep'} {sw.study}: trial {sw.index} of {sw.trials}"
        within = t.step / t.steps if t.steps else 0.0
        return replace(
            s,
            steps_history=[
                *s.steps_history,
                {"step": t.step, "epoch": t.step / max(t.steps, 1) * t.epochs, "loss": t.loss},
            ],
            progress=(sw.index - 1 + within) / n,
            message=f"{head}, epoch {t.epoch}/{t.epochs}, step {t.step}/{t.steps}, loss {t.loss:.4f}",
        )
    if event.kind == "epoch" and event.train is not None:
        return replace(s, epochs_history=[*s.epochs_history, dict(event.train.metrics)], epoch=event.train.epoch)
    if event.kind == "trial_end":
        key = {"COMPLETE": "complete", "PRUNED": "pruned"}.get(event.state, "failed")
        sw = replace(sw, finished=sw.finished + 1, **{key: getattr(sw, key) + 1})
        value = f" (val accuracy {event.value:.2%})" if event.value is not None else ""
        return replace(
            s,
            sweep=sw,
            progress=sw.index / n,
            message=(
                f"Sweep {sw.study}: trial {sw.index} of {sw.trials} {event.state.lower()}{value}: {event.message}"
            ),
        )
    if event.kind == "end":
        return replace(s, message=event.message)
    return s


def _sweep_ended(s: JobState, sw: SweepProgress, result: dict) -> JobState:
    """The state once the sweep's SweepResult (as a dict) has come: done, stopped or failed."""
    sw = replace(sw, result=result, best_trial=result["best_trial"], best_value=result["best_value"])
    stopped = bool(result["stopped"])
    status = "failed" if result["error"] else "stopped" if stopped else "done"
    cap = " (time limit reached)" if result["stopped"] == "time cap" else ""
    best = (
        f" Best: trial {result['best_trial']}, val accuracy {result['best_value']:.2%}."
        if result["best_trial"] is not None
        else " No completed trial."
    )
    counts = f"{sw.complete} complete, {sw.pruned} pruned, {sw.failed} failed"
    ended = "stopped" + cap if stopped else "failed: " + result["error"] if result["error"] else "finished"
    return replace(
        s,
        sweep=sw,
        status=status,
        progress=1.0 if status == "done" else s.progress,
        timed_out=result["stopped"] == "time cap",
        error=result["error"],
        metrics=result,
        message=f"Sweep {sw.study} {ended}: {counts} of {sw.index} trial(s) run.{best}",
    )


def _short(v: Any) -> Any:
    return f"{v:.3g}" if isinstance(v, float) else v
