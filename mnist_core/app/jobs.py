"""One training job at a time for a whole server, run in the background and polled by the UI.

`JobManager.start(cfg)` (a run) and `start_sweep(spec)` return at once: the request is checked
against the server's caps (caps.py), made a `Job` (its first state and the work its runner does),
and launched on a thread that hands it to the runner (runners.py) and folds the runner's progress
events into the `JobState` (job_state.py) that the page polls with `snapshot()`. A second start
while one runs is refused with the job's progress. This module is the locking and the lifecycle:
launch, stop, the time cap, and the end of a job.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..checkpoint_paths import CheckpointWriteError, check_writable, checkpoint_dir, new_run_path
from ..config import TrainConfig
from ..search_space import build_space
from ..sweep import SweepSpec
from .caps import Caps, JobError
from .job_state import JobState, SweepProgress, fold_sweep_event, fold_train_event, progress_text
from .runners import InThread, RunFailed, Runner, default_runner

# Re-exported: the app's modules and the tests import these from here.
__all__ = ["Caps", "InThread", "Job", "JobBusyError", "JobError", "JobManager", "JobState", "Runner"]

log = logging.getLogger(__name__)


class JobBusyError(JobError):
    """Another job is in progress."""


Work = Callable[[threading.Event, Callable[[], None], Callable[[Any], None]], None]  # (stop, on_running, on_event)


@dataclass
class Job:
    """A checked request, ready to launch: its first state and what its runner does for it."""

    state: JobState
    work: Work


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

    # ----------------------------------------------------------------------------- requests
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
        self._check_writable("training is unavailable")
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
                Job(state, lambda stop, running, event: self.runner.run(cfg, path, stop, running, event))
            )

    def start_sweep(self, spec: SweepSpec) -> JobState:
        """Check the sweep against the caps and start it in the background: the server's one job, like a run.

        SearchSpaceError/SweepError for a bad request (naming the field), JobError if this server refuses it.
        """
        self.caps.check_sweep(spec)
        cap = self.caps.max_sweep_seconds
        if cap is not None:
            spec = dataclasses.replace(spec, max_seconds=min(spec.max_seconds or cap, cap))
        self._check_writable("sweeps are unavailable")
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
                sweep=SweepProgress(study=spec.study, trials=spec.trials),
            )
            return self._launch(Job(state, lambda stop, running, event: self.runner.sweep(spec, stop, running, event)))

    def _check_writable(self, refusal: str) -> None:
        """Fail now, not after a whole epoch, if a run could never be saved (read-only folder)."""
        try:
            check_writable(self._directory())
        except CheckpointWriteError as exc:
            raise JobError(f"{refusal}: {exc}") from None

    def _refuse_if_busy(self) -> None:
        if self._state.active:
            what = "A sweep" if self._state.kind == "sweep" else "A run"
            raise JobBusyError(
                f"{what} is in progress ({progress_text(self._state)}): "
                "wait for it to finish or stop it (one job at a time)."
            )

    # ----------------------------------------------------------------------------- control
    def stop(self) -> JobState:
        """Ask the running job to stop after the current step (it keeps its last completed epoch)."""
        with self._lock:
            if self._state.active:
                self._stop.set()
                self._update(status="stopping", message=f"Stopping... ({progress_text(self._state)})")
            return copy.deepcopy(self._state)

    def snapshot(self) -> JobState:
        """A copy of the current state, for polling."""
        with self._lock:
            return self._current_copy()

    def latest_sweep(self) -> JobState | None:
        """A copy of the current job's state if it is a sweep, else of the latest sweep's (None: no sweep yet)."""
        with self._lock:
            return self._current_copy() if self._state.kind == "sweep" else copy.deepcopy(self._last_sweep)

    def busy(self) -> bool:
        """Whether a job is in progress."""
        with self._lock:
            return self._state.active

    def wait_for(self, condition: Callable[[JobState], bool], timeout: float | None = None) -> JobState | None:
        """Block until `condition(state)` holds (checked at every change); a snapshot, or None on timeout."""
        with self._changed:
            if self._changed.wait_for(lambda: condition(self._state), timeout):
                return copy.deepcopy(self._state)
            return None

    def warm_up(self) -> None:
        """Get the runner ready (start the training process) before the first job asks for it."""
        if not self.caps.training_disabled:
            self.runner.start()

    def close(self) -> None:
        """Stop any job and release the runner (the training process exits)."""
        self.stop()
        self.wait(30)
        self.runner.close()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the current job's thread ends; True if it has (for tests and scripts)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    # ----------------------------------------------------------------------------- lifecycle (lock held where said)
    def _launch(self, job: Job) -> JobState:
        """Make `job`'s state the current one and run its work in a thread (lock held)."""
        state = job.state
        self._stop = threading.Event()
        self._started_at = time.monotonic()
        state.run_id, state.version = self._state.run_id + 1, self._state.version + 1
        if self._state.kind == "sweep":
            self._last_sweep = self._state  # the Sweep tab goes on showing it while a training run follows
        self._state = state
        self._thread = threading.Thread(
            target=self._run,
            args=(job.work, state.name, self._stop, state.run_id),
            name=f"{state.kind}-{state.name}",
            daemon=True,
        )
        self._thread.start()
        return copy.deepcopy(self._state)

    def _current_copy(self) -> JobState:
        """The current state with its elapsed time brought up to date, copied (lock held)."""
        if self._state.active:
            self._state.elapsed = time.monotonic() - self._started_at
        return copy.deepcopy(self._state)

    def _update(self, **changes: Any) -> None:
        """Apply changes to the state (lock held by the caller)."""
        self._set(dataclasses.replace(self._state, **changes))

    def _set(self, state: JobState) -> None:
        """Make `state` the current one, a new version, and wake the waiters (lock held by the caller)."""
        state.version = self._state.version + 1
        self._state = state
        self._changed.notify_all()

    def _run(self, work: Work, name: str, stop: threading.Event, run_id: int) -> None:
        """The job's thread: run `work` under the time cap; whatever happens, leave the job ended."""
        sweep = self._state.kind == "sweep"

        def on_running() -> None:
            with self._lock:
                s = self._state
                if sweep:
                    message = f"Sweep {name}: starting trial 1 of {s.sweep.trials}..."
                else:
                    message = f"Training {s.config.get('model')}: epoch 1/{s.epochs}..."
                self._update(status="running", message=message)

        def on_event(event: Any) -> None:
            with self._lock:
                if self._state.run_id == run_id:
                    if sweep:
                        folded = fold_sweep_event(self._state, event)
                    else:
                        folded = fold_train_event(self._state, event, time_limit=self.caps.max_train_seconds)
                    if folded is not self._state:
                        self._set(folded)

        timer = None if sweep else self._start_time_cap(stop, run_id)
        what = "Sweep" if sweep else "Run"
        try:
            work(stop, on_running, on_event)
        except Exception as exc:  # noqa: BLE001 - a failed job must be reported, never kill the server
            self._failed(exc, what, name, run_id)
        finally:
            if timer is not None:
                timer.cancel()
            with self._lock:
                if self._state.run_id == run_id:  # a next job may already have started: leave it alone
                    if self._state.active:  # ended without an 'end' event
                        self._update(status="failed", message=f"{what} ended unexpectedly.", error="no end event")
                    self._state.elapsed = time.monotonic() - self._started_at

    def _start_time_cap(self, stop: threading.Event, run_id: int) -> threading.Timer | None:
        """Stop the run at MNIST_MAX_TRAIN_SECONDS after start() (None: no cap).

        A deadline kept by a timer rather than checked at progress events, so it also covers loading
        MNIST (a cold child imports torch and reads the data first), validation and saving. The final
        test evaluation of the kept weights (a few seconds) is let finish, so a capped run keeps its
        test accuracy. A sweep's cap is its SweepSpec.max_seconds, which run_sweep keeps itself.
        """
        limit = self.caps.max_train_seconds
        if limit is None:
            return None
        remaining = max(0.0, self._started_at + limit - time.monotonic())
        timer = threading.Timer(remaining, self._time_up, args=(stop, run_id))
        timer.daemon = True
        timer.start()
        return timer

    def _time_up(self, stop: threading.Event, run_id: int) -> None:
        """The run's deadline has passed: ask it to stop (it keeps its last completed epoch)."""
        with self._lock:
            if self._state.run_id == run_id and self._state.active and not stop.is_set():
                stop.set()
                limit = f"time limit of {self.caps.max_train_seconds:g} s reached"
                self._update(
                    timed_out=True, status="stopping", message=f"Stopping: {limit} ({progress_text(self._state)})"
                )

    def _failed(self, exc: Exception, what: str, name: str, run_id: int) -> None:
        """Log the job's failure and report it in the state, with what was kept."""
        if isinstance(exc, RunFailed):  # the child has logged its own traceback
            log.error("%s %s failed: %s", what.lower(), name, exc)
        else:
            log.exception("%s %s failed", what.lower(), name)
        kind = getattr(exc, "kind", type(exc).__name__)  # RunFailed carries the child's exception type
        with self._lock:
            s = self._state
            if s.run_id == run_id and s.active:  # not a job that has already ended
                if s.sweep is not None:
                    kept = f" {s.sweep.complete} completed trial(s) are kept." if s.sweep.complete else ""
                else:
                    kept = f" Epoch {s.epoch} was saved as {name}." if s.epoch else ""
                message = f"{what} failed: {str(exc).rstrip('.')}.{kept}"
                self._update(status="failed", error=f"{kind}: {exc}", message=message)
