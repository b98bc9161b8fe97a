"""The server's training jobs: one runs at a time, the others wait in a fair line, each owned by a visitor.

`JobManager.start(cfg, owner)` (a run) and `start_sweep(spec, owner)` return at once: the request is
checked against the server's caps (caps.py), made a `Job` (its first state and the work its runner
does), and either launched on a thread that hands it to the runner (runners.py) and folds the runner's
progress events into the `JobState` (job_state.py), or put in line behind the running job: first come,
first served, one job per visitor, at most `caps.max_queue` waiting. When a job ends, its thread starts
the next in line itself, so a queued run trains whether or not its visitor still has the page open.
`stop(owner)` stops or takes out of the line the caller's own job only; `view(owner)` is what that
visitor sees, `snapshot()` the server's current job. Every change to who is running or waiting is
written to `queue.json` beside the checkpoints, so that after a restart the owners of the jobs it
dropped are told so. This module is the locking and the lifecycle: launch, queue, stop, the time cap,
and the end of a job.
"""

from __future__ import annotations

import collections
import copy
import dataclasses
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..atomic import atomic_write_bytes
from ..checkpoint_paths import CheckpointWriteError, check_writable, checkpoint_dir, new_run_path
from ..config import TrainConfig
from ..search_space import build_space
from ..sweep import SweepSpec
from .caps import Caps, JobError
from .disk_space import check_free_space
from .job_state import (
    JobState,
    Line,
    SweepProgress,
    caller_view,
    fold_sweep_event,
    fold_train_event,
    make_line,
    progress_text,
    remaining_seconds,
    stop_refusal,
)
from .ownership import Owners
from .runners import InThread, RunFailed, Runner, default_runner
from .visitors import LOCAL

# Re-exported: the app's modules and the tests import these from here.
__all__ = ["Caps", "InThread", "Job", "JobBusyError", "JobError", "JobManager", "JobState", "QueueFullError", "Runner"]

log = logging.getLogger(__name__)

QUEUE_FILE = "queue.json"  # who is running and waiting, for the owners of jobs a restart drops
ENDED_KEPT = 1000  # visitors whose last ended job is remembered (the oldest forgotten first)


class JobBusyError(JobError):
    """The caller already has a job running or waiting in line."""


class QueueFullError(JobError):
    """The line is full (caps.max_queue jobs are waiting)."""


Work = Callable[[threading.Event, Callable[[], None], Callable[[Any], None]], None]  # (stop, on_running, on_event)
Estimator = Callable[[TrainConfig], "float | None"]  # about how many seconds a run of this config trains


@dataclass
class Job:
    """A checked request, ready to launch: its first state (with owner and expected length) and its work."""

    state: JobState
    work: Work


class JobManager:
    """Runs one training job at a time in the background, the others in a fair line; every method is thread-safe."""

    def __init__(
        self,
        caps: Caps | None = None,
        directory: Callable[[], Path] = checkpoint_dir,
        runner: Runner | None = None,
        owners: Owners | None = None,
        estimator: Estimator | None = None,
    ) -> None:
        self.caps = caps if caps is not None else Caps.from_env()
        self._directory = directory
        self.runner = runner if runner is not None else default_runner()
        self.owners = owners if owners is not None else Owners(directory)
        self.estimator = estimator  # set by the app (AppContext) from its runs; None: waits are unknown
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # notified on every state change
        self._state = JobState()
        self._last_sweep: JobState | None = None  # the latest finished sweep, once another job has begun
        self._queue: collections.deque[Job] = collections.deque()
        self._ended: collections.OrderedDict[str, JobState] = collections.OrderedDict()  # owner -> last ended job
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started_at = 0.0
        self._closing = False
        self._recover()

    # ----------------------------------------------------------------------------- requests
    def start(self, config: TrainConfig | Mapping[str, Any], owner: str = LOCAL) -> JobState:
        """Validate, check the caps, and start training in the background, or put it in line.

        ValueError for a bad config (naming the field), JobError if this server refuses it (the
        caller's job already running or queued, the line full, caps, checkpoint folder not writable).
        The state returned is the caller's view: starting, or queued with its place.
        """
        cfg = config if isinstance(config, TrainConfig) else TrainConfig.from_dict(dict(config))
        cfg.validate()
        self.caps.check(cfg)
        from ..device import resolve_device

        resolve_device(cfg.device)  # fail now, not in the thread, if the device is absent
        self._check_writable("training is unavailable", cfg)
        expected = self._expected_seconds(cfg)
        with self._lock:
            self._refuse(owner)
            path = self._fresh_path(cfg)
            state = JobState(
                status="starting",
                message=f"Starting {cfg.model} for {cfg.epochs} epoch(s): loading MNIST...",
                epochs=cfg.epochs,
                name=path.stem,
                checkpoint=str(path),
                config=cfg.to_dict(),
                owner=owner,
                expected_seconds=expected,
            )
            self.owners.record(path.stem, owner)
            return self._accept(
                Job(state, lambda stop, running, event: self.runner.run(cfg, path, stop, running, event))
            )

    def start_sweep(self, spec: SweepSpec, owner: str = LOCAL) -> JobState:
        """Check the sweep against the caps and start it in the background, or put it in line, like a run.

        SearchSpaceError/SweepError for a bad request (naming the field), JobError if this server refuses it.
        """
        self.caps.check_sweep(spec)
        cap = self.caps.max_sweep_seconds
        if cap is not None:
            spec = dataclasses.replace(spec, max_seconds=min(spec.max_seconds or cap, cap))
        base = build_space(spec.vary, spec.fixed).base
        self._check_writable("sweeps are unavailable", base, spec.trials)
        expected = spec.max_seconds
        if expected is None and (one := self._expected_seconds(base)) is not None:
            expected = one * spec.trials
        with self._lock:
            self._refuse(owner)
            state = JobState(
                kind="sweep",
                status="starting",
                message=f"Starting sweep {spec.study} ({spec.trials} trial(s)): loading MNIST...",
                epochs=base.epochs,
                name=spec.study,
                config=base.to_dict(),
                sweep=SweepProgress(study=spec.study, trials=spec.trials),
                owner=owner,
                expected_seconds=expected,
            )
            self.owners.record_study(spec.study, owner)
            return self._accept(Job(state, lambda stop, running, event: self.runner.sweep(spec, stop, running, event)))

    def _expected_seconds(self, cfg: TrainConfig) -> float | None:
        """About how long a run of `cfg` takes here (the estimator's guess, never past the time cap)."""
        try:
            seconds = self.estimator(cfg) if self.estimator is not None else None
        except Exception as exc:  # noqa: BLE001 - a wait we cannot estimate is shown as unknown, never refused
            log.warning("no estimate for the line: %s", exc)
            seconds = None
        cap = self.caps.max_train_seconds
        return min(seconds, cap) if seconds is not None and cap is not None else seconds

    def _check_writable(self, refusal: str, cfg: TrainConfig, runs: int = 1) -> None:
        """Fail now, not after a whole epoch, if a run could never be saved (read-only folder, or a disk
        without room for `runs` runs of `cfg`: disk_space.py)."""
        try:
            check_writable(self._directory())
        except CheckpointWriteError as exc:
            raise JobError(f"{refusal}: {exc}") from None
        check_free_space(self._directory(), cfg, runs, refusal)

    def _refuse(self, owner: str) -> None:
        """Refuse a second job of the same visitor, or a job the full line has no room for (lock held)."""
        s = self._state
        if s.active and s.owner == owner:
            what = "A sweep" if s.kind == "sweep" else "A run"
            raise JobBusyError(
                f"{what} is in progress ({progress_text(s)}): wait for it to finish or stop it "
                "(one job at a time for each visitor)."
            )
        line = self._line()
        for job in line.waiting:
            if job.owner == owner:
                what = "sweep" if job.kind == "sweep" else "run"
                raise JobBusyError(
                    f"Your {what} {job.name} is already in line (#{job.position}): wait for it, or Stop to take "
                    "it out of the line (one job at a time for each visitor)."
                )
        limit = self.caps.max_queue
        if self._must_wait() and limit is not None and len(self._queue) >= limit:
            raise QueueFullError(
                f"The line is full: {len(self._queue)} job(s) are waiting, this server's limit (MNIST_MAX_QUEUE). "
                "Please try again when one has started."
            )

    def _must_wait(self) -> bool:
        """Whether a new job goes in line rather than starting now (lock held)."""
        return self._state.active or bool(self._queue)

    def _fresh_path(self, cfg: TrainConfig) -> Path:
        """A new run's checkpoint path, free on disk and among the running and waiting jobs' (lock held)."""
        path = new_run_path(self._directory(), cfg)
        taken = {self._state.name, *(job.state.name for job in self._queue)}
        stem, n = path.stem, 2
        while path.stem in taken or path.exists():
            path, n = path.with_name(f"{stem}-{n}.pt"), n + 1
        return path

    def _accept(self, job: Job) -> JobState:
        """Launch `job` now if nothing runs and nobody waits, else put it at the end of the line (lock held)."""
        owner = job.state.owner
        if self._must_wait():
            self._queue.append(job)
            self._changed.notify_all()
            self._save_line()
            return caller_view(owner, self._line())
        self._launch(job)
        return copy.deepcopy(self._state)

    # ----------------------------------------------------------------------------- control
    def stop(self, owner: str = LOCAL) -> JobState:
        """Stop the caller's running job after the current step (it keeps its last completed epoch), or take
        their queued job out of the line. Another visitor's job is left alone: the state returned is the
        caller's view, its message saying what runs and that Stop changed nothing."""
        with self._lock:
            if self._state.active and self._state.owner == owner:
                self._stop_current()
                return copy.deepcopy(self._state)
            for job in self._queue:
                if job.state.owner == owner:
                    return self._cancel(job)
            line = self._line()
            view = caller_view(owner, line, copy.deepcopy(self._ended.get(owner)))
            return dataclasses.replace(view, message=stop_refusal(line, owner))

    def _stop_current(self) -> None:
        """Ask the running job to stop (lock held)."""
        self._stop.set()
        self._update(status="stopping", message=f"Stopping... ({progress_text(self._state)})")

    def _cancel(self, job: Job) -> JobState:
        """Take a queued job out of the line, for good (lock held); its owner's view of it."""
        self._queue.remove(job)
        s = job.state
        what = "sweep" if s.kind == "sweep" else "run"
        ended = dataclasses.replace(
            s, status="stopped", message=f"Your {what} {s.name} was taken out of the line before it started."
        )
        self._remember(ended)
        if s.kind != "sweep":
            self.owners.forget(s.name)  # never trained: no run of that name will exist
        self._changed.notify_all()
        self._save_line()
        return copy.deepcopy(ended)

    def view(self, owner: str) -> JobState:
        """What `owner` sees: their running job, their queued one (place, expected start), their last ended
        one, or an idle state saying what the server is doing (job_state.caller_view)."""
        return self.look(owner)[0]

    def look(self, owner: str) -> tuple[JobState, Line]:
        """`view(owner)` and the server's line it was made from, read at one instant (for the API's status)."""
        with self._lock:
            line = self._line()
            return caller_view(owner, line, copy.deepcopy(self._ended.get(owner))), line

    def snapshot(self) -> JobState:
        """A copy of the server's current job's state, whoever owns it, for polling (the curves)."""
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

    def queue_length(self) -> int:
        """How many jobs wait in line."""
        with self._lock:
            return len(self._queue)

    def protected_runs(self) -> set[str]:
        """The runs that must not be removed: the running job's and the queued jobs' (runs by name, sweeps
        by study), a sweep's running trial included."""
        with self._lock:
            names = {job.state.name for job in self._queue}
            if self._state.active:
                names.add(self._state.name)
                if self._state.sweep is not None:
                    names.add(self._state.sweep.study)
            return names

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
        """Stop the running job, start no other (the line stays in queue.json, so a restart tells its owners
        their jobs were dropped), and release the runner (the training process exits)."""
        with self._lock:
            self._closing = True
            if self._state.active:
                self._stop_current()
        self.wait(30)
        self.runner.close()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until no job runs, none waits in line and the last job's thread has ended; True if so (for
        tests and scripts)."""
        with self._changed:
            return self._changed.wait_for(lambda: self._thread is None and (not self._queue or self._closing), timeout)

    # ----------------------------------------------------------------------------- the line (lock held)
    def _line(self) -> Line:
        """The current job and the line behind it, with places and expected waits."""
        current = self._current_copy()
        limit = self.caps.max_sweep_seconds if current.kind == "sweep" else self.caps.max_train_seconds
        return make_line(current, [copy.deepcopy(job.state) for job in self._queue], remaining_seconds(current, limit))

    def _remember(self, state: JobState) -> None:
        """Keep `state` as its owner's last ended job (bounded: the oldest owners are forgotten)."""
        self._ended[state.owner] = state
        self._ended.move_to_end(state.owner)
        while len(self._ended) > ENDED_KEPT:
            self._ended.popitem(last=False)

    def _queue_file(self) -> Path:
        return Path(self._directory()) / QUEUE_FILE

    def _save_line(self) -> None:
        """Write who is running and who waits (owner, kind, name, what they asked) to queue.json, atomically;
        removed when nothing runs or waits. A failure is logged, never raised: the line itself is in memory."""

        def entry(s: JobState) -> dict:
            return {"owner": s.owner, "kind": s.kind, "name": s.name, "config": s.config}

        running = entry(self._state) if self._state.active else None
        queued = [entry(job.state) for job in self._queue]
        path = self._queue_file()
        try:
            if running is None and not queued:
                path.unlink(missing_ok=True)
                return
            data = json.dumps({"running": running, "queued": queued}, indent=1).encode("utf-8")
            atomic_write_bytes(path, data)
        except OSError as exc:
            log.warning("could not record the line in %s: %s", path, exc)

    def _recover(self) -> None:
        """At start-up: tell the owners of the jobs a restart dropped (from queue.json) what happened to them."""
        path = self._queue_file()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            running, queued = data.get("running"), list(data.get("queued") or [])
        except FileNotFoundError:
            return
        except (OSError, ValueError, AttributeError) as exc:
            log.warning("ignoring the line's record %s: %s", path, exc)
            return
        for entry in filter(None, [running, *queued]):
            if not isinstance(entry, dict) or not isinstance(entry.get("owner"), str):
                continue
            what = "sweep" if entry.get("kind") == "sweep" else "run"
            name = str(entry.get("name", ""))
            if entry is running:
                kept = "its completed trials are kept" if what == "sweep" else "its completed epochs are kept in Runs"
                message = f"Your {what} {name} was interrupted when the server restarted; {kept}. Press Start again."
                status = "stopped"
            else:
                message = f"Your queued {what} {name} was dropped when the server restarted; press Start again."
                status = "idle"
            self._remember(JobState(status=status, message=message, kind=what, name=name, owner=entry["owner"]))
        log.info("the server restarted: %d job(s) in the line were dropped", len(self._ended))
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("could not remove %s: %s", path, exc)

    # ----------------------------------------------------------------------------- lifecycle (lock held where said)
    def _launch(self, job: Job) -> None:
        """Make `job`'s state the current one and run its work in a thread (lock held)."""
        state = job.state
        self._stop = threading.Event()
        self._started_at = time.monotonic()
        state.run_id, state.version = self._state.run_id + 1, self._state.version + 1
        if self._state.run_id:
            self._remember(self._state)  # the previous job's owner goes on seeing how it ended
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
        self._changed.notify_all()
        self._save_line()

    def _next(self) -> None:
        """A job has ended: start the first one in line, if any and unless the server is closing (lock held)."""
        if self._queue and not self._closing and not self._state.active:
            self._launch(self._queue.popleft())
        else:
            self._save_line()

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
                if self._thread is threading.current_thread():
                    self._thread = None
                    self._next()  # here, not in a handler: the next in line starts with no page open
                self._changed.notify_all()

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
