"""One training job at a time for a whole server, run in the background and polled by the UI.

`JobManager.start(cfg)` returns at once; a background thread hands the run to a runner and folds
its progress events into a `JobState` that the page polls with `snapshot()` for the status,
progress and curves. A second start while one runs is refused with the run's progress. The default
runner trains in a child process (`train_process.py`: a thread of the server trains much slower);
`InThread` trains in the server's own thread, for tests that inject faults with monkeypatch and for
platforms without the child.
Caps for public deployments come from the environment and are enforced here, on the server:

- MNIST_TRAINING_DISABLED=1: training is off.
- MNIST_MAX_EPOCHS=N: a config asking for more epochs is refused.
- MNIST_MAX_TRAIN_SECONDS=S: a run is stopped (keeping its last completed epoch) S seconds after it was
  started, loading MNIST included; the final test evaluation of the kept epoch is let finish.
- MNIST_MAX_SWEEP_TRIALS=N, MNIST_MAX_SWEEP_SECONDS=S: a sweep (the other kind of job, `start_sweep`)
  asks for at most N trials and ends S seconds after it started (its running trial is stopped, completed
  trials are kept). On a Hugging Face Space (SPACE_ID set) they default to 10 trials and 600 s.
  MNIST_MAX_EPOCHS applies to every trial; MNIST_TRAINING_DISABLED turns sweeps off too.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..checkpoint_paths import CheckpointWriteError, check_writable, checkpoint_dir, new_run_path
from ..config import TrainConfig
from ..search_space import build_space
from ..sweep import SweepResult, SweepSpec
from .train_process import RunFailed, TrainingProcess, learning_probe

log = logging.getLogger(__name__)


SPACE_SWEEP_TRIALS, SPACE_SWEEP_SECONDS = 10, 600.0  # sweep caps on a Hugging Face Space unless set


class JobError(RuntimeError):
    """A training request the server refuses (busy, disabled, over a cap); the message is for the user."""


class JobBusyError(JobError):
    """Another run is in progress."""


@dataclass(frozen=True)
class Caps:
    """Server-side limits on training (None: no limit)."""

    training_disabled: bool = False
    max_epochs: int | None = None
    max_train_seconds: float | None = None
    max_sweep_trials: int | None = None
    max_sweep_seconds: float | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Caps:
        """Read MNIST_TRAINING_DISABLED, MNIST_MAX_EPOCHS, MNIST_MAX_TRAIN_SECONDS and the sweep caps."""
        env = os.environ if env is None else env
        disabled = env.get("MNIST_TRAINING_DISABLED", "").strip().lower() in ("1", "true", "yes", "on")
        space = bool(env.get("SPACE_ID"))  # a public Space: a sweep must not hold the one job for ever
        trials = _positive(env, "MNIST_MAX_SWEEP_TRIALS", int)
        seconds = _positive(env, "MNIST_MAX_SWEEP_SECONDS", float)
        return cls(
            disabled,
            _positive(env, "MNIST_MAX_EPOCHS", int),
            _positive(env, "MNIST_MAX_TRAIN_SECONDS", float),
            trials if trials is not None or not space else SPACE_SWEEP_TRIALS,
            seconds if seconds is not None or not space else SPACE_SWEEP_SECONDS,
        )

    def check(self, cfg: TrainConfig) -> None:
        """Raise JobError if this config may not be trained on this server."""
        if self.training_disabled:
            raise JobError("training is disabled on this server (MNIST_TRAINING_DISABLED)")
        if self.max_epochs is not None and cfg.epochs > self.max_epochs:
            raise JobError(f"epochs: {cfg.epochs} is above this server's limit of {self.max_epochs}")

    def check_sweep(self, spec: SweepSpec) -> None:
        """Raise JobError (or SearchSpaceError/SweepError, naming the field) if this sweep may not run here."""
        if self.training_disabled:
            raise JobError("sweeps are disabled on this server (MNIST_TRAINING_DISABLED)")
        spec.validate()
        if self.max_sweep_trials is not None and spec.trials > self.max_sweep_trials:
            raise JobError(f"trials: {spec.trials} is above this server's limit of {self.max_sweep_trials}")
        space = build_space(spec.vary, spec.fixed)
        if self.max_epochs is not None and "epochs" in space.distributions:
            raise JobError(f"epochs cannot be varied on this server (limit {self.max_epochs}): fix it instead")
        self.check(space.base)

    def describe(self) -> str:
        """One line for the UI: what this server allows."""
        if self.training_disabled:
            return "Training is disabled on this server."
        limits = []
        if self.max_epochs is not None:
            limits.append(f"at most {self.max_epochs} epoch(s) per run")
        if self.max_train_seconds is not None:
            limits.append(f"runs stop after {self.max_train_seconds:g} s")
        if self.max_sweep_trials is not None:
            limits.append(f"at most {self.max_sweep_trials} trials per sweep")
        if self.max_sweep_seconds is not None:
            limits.append(f"sweeps stop after {self.max_sweep_seconds:g} s")
        return ("Server limits: " + "; ".join(limits) + ".") if limits else "No server limits on training."


def _positive(env: Mapping[str, str], name: str, kind: type) -> Any:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    try:
        value = kind(float(raw)) if kind is int else kind(raw)
    except ValueError:
        log.warning("ignoring %s=%r: not a number", name, raw)
        return None
    return value if value > 0 else None


class InThread:
    """Train in the calling thread, on data from `data_loader` (default: MNIST, loaded once).

    For tests that inject faults with monkeypatch, and where the training process cannot start.
    """

    def __init__(self, data_loader: Callable[[], Any] | None = None) -> None:
        self._data_loader = data_loader

    def start(self) -> None:
        """Nothing to start: the data loads with the first run."""

    def run(self, cfg, path, stop, on_running, on_event) -> None:
        """Train here, now; the same contract as `TrainingProcess.run`."""
        from ..data import load_mnist_cached
        from ..train import train

        data = (self._data_loader or load_mnist_cached)()
        on_running()
        train(cfg, data, callback=on_event, stop=stop, checkpoint_path=path, probe=learning_probe(data))

    def sweep(self, spec, stop, on_running, on_event) -> None:
        """Run the sweep here, now; the same contract as `TrainingProcess.sweep`."""
        from ..data import load_mnist_cached
        from ..sweep import run_sweep

        data = (self._data_loader or load_mnist_cached)()
        on_running()
        on_event(run_sweep(spec, data, callback=on_event, stop=stop))

    def close(self) -> None:
        """Nothing to close."""


Runner = TrainingProcess | InThread  # where a run trains: `run()` blocks until it ends, calling back


def default_runner() -> Runner:
    """The child process where it can be started (POSIX: it inherits a socket), else this process."""
    return TrainingProcess() if os.name == "posix" else InThread()


@dataclass
class JobState:
    """What the UI shows about the current (or last) run. A snapshot is a deep copy: safe to read."""

    run_id: int = 0  # increases with every started run
    version: int = 0  # increases with every change, so a poller can skip unchanged states
    status: str = "idle"  # idle | starting | running | stopping | done | stopped | failed
    message: str = "No run yet."
    progress: float = 0.0  # 0..1 over the steps of the run
    epoch: int = 0  # epochs completed
    epochs: int = 0
    elapsed: float = 0.0  # seconds since the run started (loading and validation included)
    name: str = ""  # checkpoint name (file stem)
    checkpoint: str = ""  # path of the checkpoint file
    config: dict = field(default_factory=dict)
    steps_history: list[dict] = field(default_factory=list)  # {'step', 'epoch', 'loss', 'lr'}
    epochs_history: list[dict] = field(default_factory=list)  # {'epoch', 'train_loss', 'val_acc', ...}
    metrics: dict = field(default_factory=dict)  # final metrics ('end' event)
    error: str = ""
    timed_out: bool = False  # stopped by MNIST_MAX_TRAIN_SECONDS
    learning: dict | None = None  # the latest step's probe snapshot (train_process.learning_probe)
    kind: str = "run"  # run | sweep
    # A sweep's standing: study, trials (asked for), index (trials started here), trial (its study-wide
    # number), complete / pruned / failed (here), finished (trials ended here), and at its end `result`.
    sweep: dict = field(default_factory=dict)

    @property
    def active(self) -> bool:
        """Whether the run is still going (starting, running or stopping)."""
        return self.status in ("starting", "running", "stopping")


class JobManager:
    """Runs at most one training job at a time in the background; every method is thread-safe."""

    def __init__(
        self,
        caps: Caps | None = None,
        directory: Callable[[], Path] = checkpoint_dir,
        runner: Runner | None = None,
    ) -> None:
        self.caps = caps if caps is not None else Caps.from_env()
        self._directory = directory
        self.runner = runner if runner is not None else default_runner()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # notified on every state change
        self._state = JobState()
        self._last_sweep: JobState | None = None  # the latest finished sweep, once another job has begun
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started_at = 0.0

    # ----------------------------------------------------------------------------- control
    def start(self, config: TrainConfig | Mapping[str, Any]) -> JobState:
        """Validate, check the caps, and start training in the background.

        ValueError for a bad config (naming the field), JobError if this server refuses it (busy, caps,
        checkpoint folder not writable).
        """
        cfg = config if isinstance(config, TrainConfig) else TrainConfig.from_dict(dict(config))
        cfg.validate()
        self.caps.check(cfg)
        from ..device import resolve_device

        resolve_device(cfg.device)  # fail now, not in the thread, if the device is absent
        try:  # fail now, not after a whole epoch, if the run could never be saved (read-only folder)
            check_writable(self._directory())
        except CheckpointWriteError as exc:
            raise JobError(f"training is unavailable: {exc}") from None
        with self._lock:
            self._refuse_if_busy()
            path = new_run_path(self._directory(), cfg)
            state = JobState(
                status="starting",
                message=f"Starting {cfg.model} for {cfg.epochs} epoch(s): loading MNIST...",
                epochs=cfg.epochs,
                name=path.stem,
                checkpoint=str(path),
                config=cfg.to_dict(),
            )
            return self._launch(
                state, lambda stop, on_running, on_event: self.runner.run(cfg, path, stop, on_running, on_event)
            )

    def start_sweep(self, spec: SweepSpec) -> JobState:
        """Check the sweep against the caps and start it in the background: the server's one job, like a run.

        SearchSpaceError/SweepError for a bad request (naming the field), JobError if this server refuses it.
        """
        self.caps.check_sweep(spec)
        cap = self.caps.max_sweep_seconds
        if cap is not None:
            spec = dataclasses.replace(spec, max_seconds=min(spec.max_seconds or cap, cap))
        try:
            check_writable(self._directory())
        except CheckpointWriteError as exc:
            raise JobError(f"sweeps are unavailable: {exc}") from None
        base = build_space(spec.vary, spec.fixed).base
        with self._lock:
            self._refuse_if_busy()
            state = JobState(
                kind="sweep",
                status="starting",
                message=f"Starting sweep {spec.study} ({spec.trials} trial(s)): loading MNIST...",
                epochs=base.epochs,
                name=spec.study,
                config=base.to_dict(),
                sweep=dict(
                    study=spec.study,
                    trials=spec.trials,
                    index=0,
                    trial=None,
                    finished=0,
                    complete=0,
                    pruned=0,
                    failed=0,
                ),
            )
            return self._launch(
                state, lambda stop, on_running, on_event: self.runner.sweep(spec, stop, on_running, on_event)
            )

    def _refuse_if_busy(self) -> None:
        if self._state.active:
            raise JobBusyError(self._busy_message())

    def _launch(self, state: JobState, work: Callable) -> JobState:
        """Make `state` the current job's and run `work(stop, on_running, on_event)` in a thread (lock held)."""
        self._stop = threading.Event()
        self._started_at = time.monotonic()
        state.run_id, state.version = self._state.run_id + 1, self._state.version + 1
        if self._state.kind == "sweep":
            self._last_sweep = self._state  # the Sweep tab goes on showing it while a training run follows
        self._state = state
        self._thread = threading.Thread(
            target=self._run,
            args=(work, state.name, self._stop, state.run_id),
            name=f"{state.kind}-{state.name}",
            daemon=True,
        )
        self._thread.start()
        return copy.deepcopy(self._state)

    def stop(self) -> JobState:
        """Ask the running job to stop after the current step (it keeps its last completed epoch)."""
        with self._lock:
            if self._state.active:
                self._stop.set()
                self._update(status="stopping", message=f"Stopping... ({self._progress_text()})")
            return copy.deepcopy(self._state)

    def snapshot(self) -> JobState:
        """A copy of the current state, for polling."""
        with self._lock:
            return self._current_copy()

    def latest_sweep(self) -> JobState | None:
        """A copy of the current job's state if it is a sweep, else of the latest sweep's (None: no sweep yet)."""
        with self._lock:
            return self._current_copy() if self._state.kind == "sweep" else copy.deepcopy(self._last_sweep)

    def _current_copy(self) -> JobState:
        """The current state with its elapsed time brought up to date, copied (lock held)."""
        if self._state.active:
            self._state.elapsed = time.monotonic() - self._started_at
        return copy.deepcopy(self._state)

    def busy(self) -> bool:
        """Whether a run is in progress."""
        with self._lock:
            return self._state.active

    def wait_for(self, condition: Callable[[JobState], bool], timeout: float | None = None) -> JobState | None:
        """Block until `condition(state)` holds (checked at every change); a snapshot, or None on timeout."""
        with self._changed:
            if self._changed.wait_for(lambda: condition(self._state), timeout):
                return copy.deepcopy(self._state)
            return None

    def warm_up(self) -> None:
        """Get the runner ready (start the training process) before the first run asks for it."""
        if not self.caps.training_disabled:
            self.runner.start()

    def close(self) -> None:
        """Stop any run and release the runner (the training process exits)."""
        self.stop()
        self.wait(30)
        self.runner.close()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the current run's thread ends; True if it has (for tests and scripts)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    # ----------------------------------------------------------------------------- internals
    def _progress_text(self) -> str:
        s = self._state
        if s.kind == "sweep":
            return f"trial {max(s.sweep.get('index', 0), 1)} of {s.sweep.get('trials')}, {s.progress:.0%}"
        epoch = min(s.epoch + 1, s.epochs) if s.status != "done" else s.epoch
        return f"epoch {max(epoch, 1)}/{s.epochs}, {s.progress:.0%}"

    def _busy_message(self) -> str:
        what = "A sweep" if self._state.kind == "sweep" else "A run"
        return f"{what} is in progress ({self._progress_text()}): wait for it to finish or stop it (one job at a time)."

    def _update(self, **changes: Any) -> None:
        """Apply changes to the state (lock held by the caller)."""
        for key, value in changes.items():
            setattr(self._state, key, value)
        self._state.version += 1
        self._changed.notify_all()

    def _run(self, work: Callable, name: str, stop: threading.Event, run_id: int) -> None:
        sweep = self._state.kind == "sweep"

        def on_running() -> None:
            with self._lock:
                s = self._state
                if sweep:
                    message = f"Sweep {name}: starting trial 1 of {s.sweep['trials']}..."
                else:
                    message = f"Training {s.config.get('model')}: epoch 1/{s.epochs}..."
                self._update(status="running", message=message)

        def on_event(event) -> None:
            with self._lock:
                if self._state.run_id == run_id:
                    (self._record_sweep if sweep else self._record)(event)

        # The time cap is a deadline from start(), kept by a timer rather than checked at progress
        # events, so it also covers loading MNIST (a cold child imports torch and reads the data
        # first), validation and saving. The final test evaluation of the kept weights (one forward
        # pass over 10,000 images, a few seconds) is let finish, so a capped run keeps its test accuracy.
        # A sweep's cap is its SweepSpec.max_seconds, which run_sweep keeps and reports as 'time cap'.
        limit = None if sweep else self.caps.max_train_seconds
        timer = None
        if limit is not None:
            remaining = max(0.0, self._started_at + limit - time.monotonic())
            timer = threading.Timer(remaining, self._time_up, args=(stop, run_id))
            timer.daemon = True
            timer.start()
        what = "Sweep" if sweep else "Run"
        try:
            work(stop, on_running, on_event)
        except Exception as exc:  # noqa: BLE001 - a failed run must be reported, never kill the server
            if isinstance(exc, RunFailed):  # the child has logged its own traceback
                log.error("%s %s failed: %s", what.lower(), name, exc)
            else:
                log.exception("%s %s failed", what.lower(), name)
            kind = getattr(exc, "kind", type(exc).__name__)  # RunFailed carries the child's exception type
            with self._lock:
                s = self._state
                if s.run_id == run_id and s.active:  # not a run that has already ended
                    if sweep:
                        kept = f" {s.sweep['complete']} completed trial(s) are kept." if s.sweep["complete"] else ""
                    else:
                        kept = f" Epoch {s.epoch} was saved as {name}." if s.epoch else ""
                    message = f"{what} failed: {str(exc).rstrip('.')}.{kept}"
                    self._update(status="failed", error=f"{kind}: {exc}", message=message)
        finally:
            if timer is not None:
                timer.cancel()
            with self._lock:
                if self._state.run_id == run_id:  # a next run may already have started: leave it alone
                    if self._state.active:  # ended without an 'end' event
                        self._update(status="failed", message=f"{what} ended unexpectedly.", error="no end event")
                    self._state.elapsed = time.monotonic() - self._started_at

    def _time_up(self, stop: threading.Event, run_id: int) -> None:
        """The run's deadline has passed: ask it to stop (it keeps its last completed epoch)."""
        with self._lock:
            if self._state.run_id == run_id and self._state.active and not stop.is_set():
                stop.set()
                limit = f"time limit of {self.caps.max_train_seconds:g} s reached"
                self._update(timed_out=True, status="stopping", message=f"Stopping: {limit} ({self._progress_text()})")

    def _record(self, event) -> None:
        """Fold one TrainEvent into the state (lock held)."""
        s = self._state
        progress = event.step / event.steps if event.steps else 0.0
        if event.kind == "start":
            self._update(epochs=event.epochs)
        elif event.kind == "step":
            if getattr(event, "snapshot", None):
                s.learning = {**event.snapshot, "step": event.step, "steps": event.steps}
            s.steps_history.append(
                {"step": event.step, "epoch": event.step / max(event.steps, 1) * event.epochs, "loss": event.loss}
            )
            self._update(
                progress=progress,
                message=(
                    f"{'Stopping' if s.status == 'stopping' else 'Training'} {s.config.get('model')}: "
                    f"epoch {event.epoch}/{event.epochs}, step {event.step}/{event.steps}, "
                    f"loss {event.loss:.4f}, {event.samples_per_sec:,.0f} images/s"
                ),
            )
        elif event.kind == "epoch":
            s.epochs_history.append(dict(event.metrics))
            m = event.metrics
            val = f", val acc {m['val_acc']:.2%}" if "val_acc" in m else ""
            self._update(
                epoch=event.epoch,
                progress=progress,
                message=f"Epoch {event.epoch}/{event.epochs} done: train loss {m['train_loss']:.4f}{val}",
            )
        elif event.kind == "end":
            m = dict(event.metrics)
            stopped = event.message.startswith("stopped")
            if m.get("epochs_completed"):
                result = f": test accuracy {m.get('test_accuracy', 0):.2%}; saved as {s.name}."
            else:
                result = "."
            if stopped:
                limit = f" (time limit of {self.caps.max_train_seconds:g} s reached)" if s.timed_out else ""
                message = f"Run {event.message}{limit}{result}"
            else:
                late = " (the time limit passed during the final test evaluation)" if s.timed_out else ""
                message = f"Run finished{result}{late}"
            self._update(
                status="stopped" if stopped else "done",
                metrics=m,
                epoch=event.epoch,
                progress=1.0 if not stopped else progress,
                message=message,
            )

    def _record_sweep(self, event) -> None:
        """Fold one SweepEvent (or the closing SweepResult) into the state (lock held)."""
        s, sw = self._state, self._state.sweep
        if isinstance(event, SweepResult):
            result = event.to_dict()
            sw.update(result=result, best_trial=result["best_trial"], best_value=result["best_value"])
            stopped = bool(result["stopped"])
            status = "failed" if result["error"] else "stopped" if stopped else "done"
            cap = " (time limit reached)" if result["stopped"] == "time cap" else ""
            best = (
                f" Best: trial {result['best_trial']}, val accuracy {result['best_value']:.2%}."
                if result["best_trial"] is not None
                else " No completed trial."
            )
            counts = f"{sw['complete']} complete, {sw['pruned']} pruned, {sw['failed']} failed"
            ended = "stopped" + cap if stopped else "failed: " + result["error"] if result["error"] else "finished"
            self._update(
                status=status,
                progress=1.0 if status == "done" else s.progress,
                timed_out=result["stopped"] == "time cap",
                error=result["error"],
                metrics=result,
                message=f"Sweep {sw['study']} {ended}: {counts} of {sw['index']} trial(s) run.{best}",
            )
            return
        n = max(sw["trials"], 1)
        head = (
            f"{'Stopping' if s.status == 'stopping' else 'Sweep'} {sw['study']}: trial {sw['index']} of {sw['trials']}"
        )
        if event.kind == "trial_start":
            sw.update(index=sw["index"] + 1, trial=event.trial)
            s.steps_history, s.epochs_history = [], []  # the curves follow the running trial
            params = ", ".join(f"{k}={_short(v)}" for k, v in event.params.items())
            self._update(
                epoch=0,
                progress=(sw["index"] - 1) / n,
                name=f"{sw['study']}-trial{event.trial}",
                message=f"Sweep {sw['study']}: trial {sw['index']} of {sw['trials']} (#{event.trial}): {params}",
            )
        elif event.kind == "step" and event.train is not None:
            t = event.train
            s.steps_history.append({"step": t.step, "epoch": t.step / max(t.steps, 1) * t.epochs, "loss": t.loss})
            within = t.step / t.steps if t.steps else 0.0
            self._update(
                progress=(sw["index"] - 1 + within) / n,
                message=f"{head}, epoch {t.epoch}/{t.epochs}, step {t.step}/{t.steps}, loss {t.loss:.4f}",
            )
        elif event.kind == "epoch" and event.train is not None:
            s.epochs_history.append(dict(event.train.metrics))
            self._update(epoch=event.train.epoch)
        elif event.kind == "trial_end":
            key = {"COMPLETE": "complete", "PRUNED": "pruned"}.get(event.state, "failed")
            sw.update(finished=sw["finished"] + 1, **{key: sw[key] + 1})
            value = f" (val accuracy {event.value:.2%})" if event.value is not None else ""
            self._update(
                progress=sw["index"] / n,
                message=f"Sweep {sw['study']}: trial {sw['index']} of {sw['trials']} {event.state.lower()}{value}: {event.message}",
            )
        elif event.kind == "end":
            self._update(message=event.message)


def _short(v: Any) -> Any:
    return f"{v:.3g}" if isinstance(v, float) else v
