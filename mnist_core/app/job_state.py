"""The state the page polls about a job, how progress events fold into it, and how one visitor sees the line.

`fold_train_event(state, event)` and `fold_sweep_event(state, event)` are pure: they return a new
JobState and leave theirs as it was, so they are tested without threads or training (tests/test_job_state.py).
The job manager (jobs.py) holds the lock, folds each event its runner reports, and bumps `version`.
`make_line` and `caller_view` are pure too: from the server's current job and the jobs waiting in line
(gathered under the manager's lock) they give each queued job its place and expected wait, and one
visitor's view of it all, with the words the page and the API show.
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
    owner: str = ""  # who started it (visitors.visitor_id); "" for no job
    position: int | None = None  # its place in line while queued (1: next to start)
    wait_seconds: float | None = None  # while queued: about how long until it starts (None: unknown)
    expected_seconds: float | None = None  # about how long the job takes once started (the estimate; None: unknown)

    @property
    def active(self) -> bool:
        """Whether the job is still going (starting, running or stopping)."""
        return self.status in ("starting", "running", "stopping")


@dataclass(frozen=True)
class Line:
    """The server's job and the line behind it, as gathered under the manager's lock."""

    current: JobState  # the server's current (or last) job, its elapsed time up to date
    remaining: float | None  # about how many seconds the current job still needs (0: none active; None: unknown)
    waiting: tuple[JobState, ...] = ()  # queued jobs, first in line first, with position and wait_seconds
    next_wait: float | None = 0.0  # about how long a job joining the line now would wait (None: unknown)


def remaining_seconds(s: JobState, limit: float | None = None) -> float | None:
    """About how long an active job still needs: from its pace once it has made some progress, else from
    its estimate; never past `limit` (its time cap, seconds after it started). 0 when it is not active."""
    if not s.active:
        return 0.0
    if s.progress >= 0.02 and s.elapsed > 0:
        left: float | None = s.elapsed * (1 - s.progress) / s.progress
    elif s.expected_seconds is not None:
        left = s.expected_seconds - s.elapsed
    else:
        left = None
    if limit is not None:
        left = min(left, limit - s.elapsed) if left is not None else limit - s.elapsed
    return None if left is None else max(0.0, left)


def make_line(current: JobState, queued: list[JobState], remaining: float | None) -> Line:
    """Number the queued jobs and add up the expected waits: each starts when the current job and every
    job ahead of it have ended (unknown from the first job whose length is unknown)."""
    waiting, wait = [], remaining
    for position, job in enumerate(queued, start=1):
        waiting.append(replace(job, position=position, wait_seconds=wait))
        wait = wait + job.expected_seconds if wait is not None and job.expected_seconds is not None else None
    return Line(current=current, remaining=remaining, waiting=tuple(waiting), next_wait=wait)


def duration_text(seconds: float) -> str:
    """'8 s', '3 min 20 s': the estimate's own rounding (imported here: estimate.py loads torch)."""
    from ..estimate import format_duration

    return format_duration(seconds)


def job_words(s: JobState, remaining: float | None) -> str:
    """Where an active job is and how long it has left: 'epoch 2 of 5, about 20 s left' ('trial 3 of 10, ...')."""
    if s.kind == "sweep" and s.sweep is not None:
        where = f"trial {max(s.sweep.index, 1)} of {s.sweep.trials}"
    else:
        where = f"epoch {max(min(s.epoch + 1, s.epochs), 1)} of {s.epochs}"
    if s.status == "starting":
        where += ", loading MNIST"
    return where + (f", about {duration_text(remaining)} left" if remaining is not None else "")


def server_words(line: Line, owner: str) -> str:
    """What the server is doing, from `owner`'s side: "Another visitor's run is training: epoch 2 of 5,
    about 20 s left" ("" when no job is active)."""
    s = line.current
    if not s.active:
        return ""
    whose = "Your" if s.owner == owner else "Another visitor's"
    what = "sweep" if s.kind == "sweep" else "run"
    doing = {"starting": "is starting", "stopping": "is stopping"}.get(
        s.status, "is running" if s.kind == "sweep" else "is training"
    )
    return f"{whose} {what} {doing}: {job_words(s, line.remaining)}"


def _start_words(wait: float | None) -> str:
    return f"expected to start in about {duration_text(wait)}" if wait is not None else "start time unknown"


def queued_message(job: JobState, line: Line, owner: str) -> str:
    """A queued job's line for its owner: whose job is running, its place, and when it should start."""
    what = "sweep" if job.kind == "sweep" else "run"
    server = server_words(line, owner)
    if job.position == 1:
        place = "yours is next"
    else:
        ahead = (job.position or 1) - 1
        place = f"yours is #{job.position} in line ({ahead} job{'s' if ahead != 1 else ''} ahead of it)"
    head = f"{server}; {place}" if server else f"Your {what} is about to start; {place}"
    return f"{head}, {_start_words(job.wait_seconds)}. (Queued: {what} {job.name}; Stop takes it out of the line.)"


def caller_view(owner: str, line: Line, ended: JobState | None = None) -> JobState:
    """What `owner` sees: their queued job (place, expected start), else their job if it is the server's
    current one, else their last ended one (`ended`), else an idle state saying what the server is doing."""
    for job in line.waiting:
        if job.owner == owner:
            return replace(job, status="queued", progress=0.0, message=queued_message(job, line, owner))
    if line.current.run_id and line.current.owner == owner:
        return line.current
    if ended is not None:
        return ended
    server = server_words(line, owner)
    if not server:
        return JobState()
    waiting = f"; {len(line.waiting)} waiting in line" if line.waiting else ""
    return JobState(message=f"{server}{waiting}. Start puts yours in line, {_start_words(line.next_wait)}.")


def stop_refusal(line: Line, owner: str) -> str:
    """Stop from a visitor with nothing running or queued: what is running, and that it goes on."""
    server = server_words(line, owner)
    if not server:
        return "No run in progress: you have nothing running or in line, so Stop changed nothing."
    return (
        f"{server}; Stop changed nothing: it stops only your own job, and you have nothing running or in line. "
        f"Start puts yours in line, {_start_words(line.next_wait)}."
    )


def api_status(s: JobState) -> str:
    """The API's status: idle, queued, running (starting and stopping included), done, stopped or failed."""
    return "running" if s.active else s.status


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
