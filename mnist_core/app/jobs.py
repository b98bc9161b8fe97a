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
"""

from __future__ import annotations

import copy
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..checkpoint import CheckpointWriteError, check_writable, checkpoint_dir, new_run_path
from ..config import TrainConfig
from ..device import resolve_device
from .train_process import RunFailed, TrainingProcess, learning_probe

log = logging.getLogger(__name__)


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

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Caps:
        """Read MNIST_TRAINING_DISABLED, MNIST_MAX_EPOCHS and MNIST_MAX_TRAIN_SECONDS."""
        env = os.environ if env is None else env
        disabled = env.get("MNIST_TRAINING_DISABLED", "").strip().lower() in ("1", "true", "yes", "on")
        return cls(disabled, _positive(env, "MNIST_MAX_EPOCHS", int), _positive(env, "MNIST_MAX_TRAIN_SECONDS", float))

    def check(self, cfg: TrainConfig) -> None:
        """Raise JobError if this config may not be trained on this server."""
        if self.training_disabled:
            raise JobError("training is disabled on this server (MNIST_TRAINING_DISABLED)")
        if self.max_epochs is not None and cfg.epochs > self.max_epochs:
            raise JobError(f"epochs: {cfg.epochs} is above this server's limit of {self.max_epochs}")

    def describe(self) -> str:
        """One line for the UI: what this server allows."""
        if self.training_disabled:
            return "Training is disabled on this server."
        limits = []
        if self.max_epochs is not None:
            limits.append(f"at most {self.max_epochs} epoch(s) per run")
        if self.max_train_seconds is not None:
            limits.append(f"runs stop after {self.max_train_seconds:g} s")
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
        resolve_device(cfg.device)  # fail now, not in the thread, if the device is absent
        try:  # fail now, not after a whole epoch, if the run could never be saved (read-only folder)
            check_writable(self._directory())
        except CheckpointWriteError as exc:
            raise JobError(f"training is unavailable: {exc}") from None
        with self._lock:
            if self._state.active:
                raise JobBusyError(self._busy_message())
            path = new_run_path(self._directory(), cfg)
            self._stop = threading.Event()
            self._started_at = time.monotonic()
            self._state = JobState(
                run_id=self._state.run_id + 1,
                version=self._state.version + 1,
                status="starting",
                message=f"Starting {cfg.model} for {cfg.epochs} epoch(s): loading MNIST...",
                epochs=cfg.epochs,
                name=path.stem,
                checkpoint=str(path),
                config=cfg.to_dict(),
            )
            run_id = self._state.run_id
            self._thread = threading.Thread(
                target=self._run, args=(cfg, path, self._stop, run_id), name=f"train-{path.stem}", daemon=True
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
        epoch = min(s.epoch + 1, s.epochs) if s.status != "done" else s.epoch
        return f"epoch {max(epoch, 1)}/{s.epochs}, {s.progress:.0%}"

    def _busy_message(self) -> str:
        return f"A run is in progress ({self._progress_text()}): wait for it to finish or stop it."

    def _update(self, **changes: Any) -> None:
        """Apply changes to the state (lock held by the caller)."""
        for key, value in changes.items():
            setattr(self._state, key, value)
        self._state.version += 1
        self._changed.notify_all()

    def _run(self, cfg: TrainConfig, path: Path, stop: threading.Event, run_id: int) -> None:
        def on_running() -> None:
            with self._lock:
                self._update(status="running", message=f"Training {cfg.model}: epoch 1/{cfg.epochs}...")

        def on_event(event) -> None:
            with self._lock:
                if self._state.run_id == run_id:
                    self._record(event)

        # The time cap is a deadline from start(), kept by a timer rather than checked at progress
        # events, so it also covers loading MNIST (a cold child imports torch and reads the data
        # first), validation and saving. The final test evaluation of the kept weights (one forward
        # pass over 10,000 images, a few seconds) is let finish, so a capped run keeps its test accuracy.
        limit = self.caps.max_train_seconds
        timer = None
        if limit is not None:
            remaining = max(0.0, self._started_at + limit - time.monotonic())
            timer = threading.Timer(remaining, self._time_up, args=(stop, run_id))
            timer.daemon = True
            timer.start()
        try:
            self.runner.run(cfg, path, stop, on_running, on_event)
        except Exception as exc:  # noqa: BLE001 - a failed run must be reported, never kill the server
            if isinstance(exc, RunFailed):  # the child has logged its own traceback
                log.error("training run %s failed: %s", path.name, exc)
            else:
                log.exception("training run %s failed", path.name)
            kind = getattr(exc, "kind", type(exc).__name__)  # RunFailed carries the child's exception type
            with self._lock:
                if self._state.run_id == run_id and self._state.active:  # not a run that has already ended
                    kept = f" Epoch {self._state.epoch} was saved as {path.stem}." if self._state.epoch else ""
                    message = f"Run failed: {str(exc).rstrip('.')}.{kept}"
                    self._update(status="failed", error=f"{kind}: {exc}", message=message)
        finally:
            if timer is not None:
                timer.cancel()
            with self._lock:
                if self._state.run_id == run_id:  # a next run may already have started: leave it alone
                    if self._state.active:  # ended without an 'end' event
                        self._update(status="failed", message="Run ended unexpectedly.", error="no end event")
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
