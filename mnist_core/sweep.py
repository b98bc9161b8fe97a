"""Hyperparameter sweeps with Optuna: TPE sampling, median pruning, any RDB storage shared by workers.

`run_sweep()` runs N trials of one study through Optuna's ask-and-tell interface, so the training
loop stays ours: each trial trains with `train()`, reports validation accuracy at a few points inside
every epoch and at its end (so pruning works even for one-epoch trials), and a pruned trial, a Stop
or the time cap ends its run at the next step through train()'s `stop` Event. Several processes
or machines pointing at the same storage URL and study name share one study. A running trial writes
Optuna's heartbeat, so when a worker dies (killed, machine lost) the next trial any worker starts
marks its trial failed instead of leaving it running forever. Progress goes to a callback as
SweepEvents, for the CLI's lines and the app's Sweep tab.
"""

from __future__ import annotations

import re
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna
from optuna.exceptions import StorageInternalError
from optuna.trial import TrialState

from .checkpoint_paths import CheckpointWriteError, checkpoint_dir
from .search_space import DEFAULT_VARY, SearchSpace, build_space

if TYPE_CHECKING:  # imported when a sweep runs: the app builds its Sweep tab before torch is loaded
    from .data import MNISTTensors
    from .train import TrainEvent

# Validation points inside each epoch that a trial reports to the pruner (plus one at the epoch's
# end). Three (at 25/50/75%) let a one-epoch trial be pruned half-way at ~0.3 s of scoring each.
VAL_POINTS = 3
STUDY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
CHECKPOINT_KEY = "sweep"  # checkpoint payload key: {"study": name, "trial": number}
# A running trial records a heartbeat this often (s); one silent for twice as long is a dead worker's.
HEARTBEAT_SECONDS = 10


class SweepError(RuntimeError):
    """A sweep that cannot start: bad study name, unreachable or unparsable storage, wrong study kind."""


@dataclass
class SweepSpec:
    """What to run: `trials` trials of `study` in `storage` (None: sqlite next to the checkpoints)."""

    study: str
    trials: int = 10
    storage: str | None = None
    vary: Any = DEFAULT_VARY  # names, as a list or 'a,b'
    fixed: Any = field(default_factory=dict)  # {name: value} or 'a=1,b=2'
    max_seconds: float | None = None  # wall-clock cap for the whole sweep (the running trial is stopped)
    sampler_seed: int | None = None  # reproducible sampling; leave None when several workers share a study
    val_points: int = VAL_POINTS
    prune: bool = True
    heartbeat_seconds: int = HEARTBEAT_SECONDS  # see HEARTBEAT_SECONDS

    def validate(self, flag_prefix: str = "") -> None:
        """Raise SweepError for a study name or trial count that no sweep accepts: the one check of the
        CLI, the app and `run_sweep`. `flag_prefix` ('--' in the CLI) names the field as its user typed it."""
        check_study_name(self.study)
        if self.trials < 1:
            raise SweepError(f"{flag_prefix}trials: {self.trials} is not a positive number")


def check_study_name(name: str) -> None:
    """Raise SweepError unless `name` can name a study (it also names the trials' checkpoint files)."""
    if not STUDY_NAME.match(name or ""):
        raise SweepError(
            f"study name {name!r}: use 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit"
        )


@dataclass
class SweepEvent:
    """kind: 'trial_start', 'step', 'val', 'epoch', 'trial_end' or 'end'. state: an Optuna TrialState name."""

    kind: str
    trial: int | None = None  # the study-wide trial number
    params: dict = field(default_factory=dict)
    value: float | None = None  # latest validation accuracy reported (the objective at 'trial_end')
    state: str = "RUNNING"
    train: TrainEvent | None = None  # the training event behind 'step', 'val' and 'epoch'
    message: str = ""


@dataclass
class SweepResult:
    """Counts of the whole study (all workers) and of this run; the best trial so far; why it ended."""

    study: str
    storage: str  # password hidden
    complete: int
    pruned: int
    failed: int
    running: int
    ran: dict  # this process: {"complete": n, "pruned": n, "failed": n}
    best_trial: int | None
    best_value: float | None
    best_params: dict | None
    best_checkpoint: str | None
    seconds: float
    stopped: str = ""  # '', 'stop' (Stop pressed) or 'time cap'
    error: str = ""  # the storage failure that ended the sweep, if any

    def to_dict(self) -> dict:
        return asdict(self)


def default_storage() -> str:
    """An SQLite file next to the checkpoints: checkpoint_dir()/sweeps.db."""
    return f"sqlite:///{(checkpoint_dir() / 'sweeps.db').resolve()}"


def shown_url(url: str) -> str:
    """The URL with any password masked, for messages."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - unparsable: show the scheme at most
        return url.split("://", 1)[0] + "://..." if "://" in url else "(unparsable URL)"


def with_driver(url: str) -> str:
    """'postgresql://...' with the PostgreSQL driver that is installed (SQLAlchemy 2.1 assumes psycopg 3;
    requirements.txt ships psycopg2-binary); other URLs unchanged."""
    import importlib.util

    if url.startswith("postgresql://") and importlib.util.find_spec("psycopg") is None:
        if importlib.util.find_spec("psycopg2") is not None:
            return "postgresql+psycopg2://" + url[len("postgresql://") :]
    return url


def open_storage(url: str | None = None, heartbeat_seconds: int | None = None) -> optuna.storages.RDBStorage:
    """Connect to (and if new, initialise) an Optuna RDB storage; SweepError with a clear reason if not.
    With `heartbeat_seconds`, trials record heartbeats and stale ones can be failed (see _Heartbeat)."""
    if url is None:
        checkpoint_dir().mkdir(parents=True, exist_ok=True)
        url = default_storage()
    url = with_driver(url)
    from sqlalchemy.exc import (
        ArgumentError,
        IntegrityError,
        NoSuchModuleError,
        OperationalError,
        ProgrammingError,
        SQLAlchemyError,
    )

    engine_kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if url.startswith("postgresql"):
        engine_kwargs["connect_args"] = {"connect_timeout": 10}
    elif url.startswith("sqlite"):  # several local workers on one file wait for its lock instead of failing
        engine_kwargs["connect_args"] = {"timeout": 60}
    for attempt in range(3):
        try:
            with warnings.catch_warnings():  # heartbeat_interval is marked experimental (since Optuna 2.9)
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(
                    url, engine_kwargs=engine_kwargs, heartbeat_interval=heartbeat_seconds
                )
        except (IntegrityError, ProgrammingError, OperationalError) as exc:
            # Another process was creating the tables at the same moment (the app's server and its
            # training child open a new SQLite file together): try again, when the tables now exist.
            # PostgreSQL says so with an IntegrityError or ProgrammingError, SQLite "table ... already exists".
            racing = not isinstance(exc, OperationalError) or "already exists" in str(exc)
            if not racing:
                raise SweepError(f"storage {shown_url(url)} cannot be reached: {_first_line(exc)}") from None
            if attempt == 2:
                raise
        except (ArgumentError, NoSuchModuleError, ValueError) as exc:
            raise SweepError(f"storage URL {shown_url(url)!r} cannot be parsed: {_first_line(exc)}") from None
        except ImportError as exc:
            cause = exc.__cause__ or exc
            raise SweepError(
                f"storage {shown_url(url)}: its database driver is not installed ({_first_line(cause)}); "
                "for PostgreSQL: pip install psycopg2-binary"
            ) from None
        except (SQLAlchemyError, StorageInternalError, OSError, RuntimeError) as exc:
            raise SweepError(f"storage {shown_url(url)} cannot be reached: {_first_line(exc)}") from None
    raise AssertionError("unreachable")


def open_study(name: str, storage: str | optuna.storages.BaseStorage | None = None, **kwargs: Any) -> optuna.Study:
    """Create or join the study `name` (maximising validation accuracy) in `storage`."""
    check_study_name(name)
    if storage is None or isinstance(storage, str):
        storage = open_storage(storage)
    try:
        study = optuna.create_study(
            study_name=name, storage=storage, direction="maximize", load_if_exists=True, **kwargs
        )
    except (StorageInternalError, optuna.exceptions.DuplicatedStudyError):
        study = optuna.load_study(study_name=name, storage=storage, **kwargs)
    if len(study.directions) != 1 or study.direction != optuna.study.StudyDirection.MAXIMIZE:
        raise SweepError(f"study {name!r} exists and does not maximise one value; choose another name")
    return study


def trial_checkpoint(study: str, number: int) -> Path:
    return checkpoint_dir() / f"{study}-trial{number}.pt"


class _TrialStop(threading.Event):
    """Set when the trial must end (pruned, time cap), or whenever the sweep's own stop Event is set."""

    def __init__(self, outer: threading.Event | None) -> None:
        super().__init__()
        self.outer = outer

    def is_set(self) -> bool:
        return super().is_set() or (self.outer is not None and self.outer.is_set())


def run_sweep(
    spec: SweepSpec,
    data: MNISTTensors | None = None,
    callback: Callable[[SweepEvent], None] | None = None,
    stop: threading.Event | None = None,
) -> SweepResult:
    """Run `spec.trials` trials (fewer if stopped or capped); return the study's standing.

    Raises SearchSpaceError or SweepError before any training if the request or storage is bad.
    A storage failure mid-sweep marks the trial failed where it still can and ends the sweep with
    `error` set; the checkpoints written so far stay.
    """
    space = build_space(spec.vary, spec.fixed)
    spec.validate()
    storage = open_storage(spec.storage, spec.heartbeat_seconds)
    sampler = optuna.samplers.TPESampler(seed=spec.sampler_seed)
    pruner = (
        optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1) if spec.prune else optuna.pruners.NopPruner()
    )
    study = open_study(spec.study, storage, sampler=sampler, pruner=pruner)
    from .data import load_mnist_cached

    data = data or load_mnist_cached()
    emit = callback or (lambda event: None)
    started = time.monotonic()
    deadline = started + spec.max_seconds if spec.max_seconds else None
    ran = {"complete": 0, "pruned": 0, "failed": 0}
    stopped = error = ""
    for _ in range(spec.trials):
        if stop is not None and stop.is_set():
            stopped = "stop"
            break
        if deadline is not None and time.monotonic() >= deadline:
            stopped = "time cap"
            break
        try:
            state, reason = _run_trial(study, storage, space, spec, data, emit, stop, deadline)
        except _StorageLost as lost:
            error = lost.message
            ran["failed"] += 1
            break
        except _storage_errors() as exc:
            error = (
                f"the sweep's database stopped answering: {_first_line(exc)}; checkpoints of completed trials are kept"
            )
            ran["failed"] += 1
            break
        ran[{"COMPLETE": "complete", "PRUNED": "pruned"}.get(state, "failed")] += 1
        if reason in ("stop", "time cap"):
            stopped = reason
            break
    result = _standing(study, storage, ran, time.monotonic() - started, stopped, error)
    emit(SweepEvent("end", result.best_trial, result.best_params or {}, result.best_value, "", None, _summary(result)))
    return result


class _StorageLost(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _storage_errors() -> tuple[type[BaseException], ...]:
    from sqlalchemy.exc import SQLAlchemyError

    return (StorageInternalError, SQLAlchemyError)


class _Heartbeat:
    """Records a trial's heartbeat from a thread while it trains. Optuna runs its own heartbeat thread
    only inside Study.optimize, and our loop is ask-and-tell; `fail_stale_trials` (before each ask)
    then fails the trials of workers that died. A database that stops answering is left to the
    training loop's reports to notice."""

    def __init__(self, storage: optuna.storages.RDBStorage, study: str, number: int) -> None:
        self.storage, self.study, self.number = storage, study, number
        self.interval = storage.get_heartbeat_interval()
        self.done = threading.Event()

    def __enter__(self) -> _Heartbeat:
        if self.interval:
            try:
                study_id = self.storage.get_study_id_from_name(self.study)
                self.trial_id = self.storage.get_trial_id_from_study_id_trial_number(study_id, self.number)
                self.storage.record_heartbeat(self.trial_id)
            except _storage_errors():
                return self  # the trial's first report will find the database gone
            threading.Thread(target=self._beat, name=f"heartbeat-{self.number}", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()

    def _beat(self) -> None:
        while not self.done.wait(self.interval):
            try:
                self.storage.record_heartbeat(self.trial_id)
            except _storage_errors():
                pass


def _fail_stale_trials(study: optuna.Study) -> None:
    """Mark failed the running trials whose worker stopped beating (Optuna's own check)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


def _run_trial(study, storage, space: SearchSpace, spec: SweepSpec, data, emit, stop, deadline) -> tuple[str, str]:
    """One trial, start to tell. Returns (state name, reason); raises _StorageLost if the database went away."""
    try:
        _fail_stale_trials(study)
        with warnings.catch_warnings():  # "heartbeat is supposed to be used with Study.optimize": see _Heartbeat
            warnings.simplefilter("ignore", UserWarning)
            trial = study.ask(space.distributions)
    except _storage_errors() as exc:
        raise _StorageLost(f"the sweep's database stopped answering: {_first_line(exc)}") from None
    with _Heartbeat(storage, study.study_name, trial.number):
        return _train_trial(study, trial, space, spec, data, emit, stop, deadline)


def _train_trial(study, trial, space: SearchSpace, spec: SweepSpec, data, emit, stop, deadline) -> tuple[str, str]:
    """Train an asked trial, report to the pruner and tell its end (see _run_trial)."""
    from .train import train

    lost = _storage_errors()
    number, params = trial.number, dict(trial.params)
    emit(SweepEvent("trial_start", number, params))
    try:
        cfg = space.config(params)
    except ValueError as exc:  # e.g. nesterov sampled without sgd: this point of the space is invalid
        return _finish(study, trial, emit, params, TrialState.FAIL, None, f"invalid combination: {exc}"), "invalid"

    trial_stop = _TrialStop(stop)
    per_epoch = spec.val_points + 1
    state = {"pruned": False, "lost": None, "value": None, "capped": False}

    def on_train(event: TrainEvent) -> None:
        if deadline is not None and time.monotonic() >= deadline:
            state["capped"] = True
            trial_stop.set()
        if event.kind not in ("step", "val", "epoch"):
            return
        value = event.metrics.get("val_acc") if event.kind != "step" else None
        if value is not None and state["lost"] is None and not state["pruned"]:
            within = spec.val_points  # the epoch's end; mid-epoch points are 0 .. val_points - 1
            if event.kind == "val":
                within = min(max(round(event.metrics["epoch_fraction"] * per_epoch) - 1, 0), spec.val_points - 1)
            point = (event.epoch - 1) * per_epoch + within
            state["value"] = value
            try:
                trial.report(value, point)
                if trial.should_prune():
                    state["pruned"] = True
                    trial_stop.set()
            except lost as exc:
                state["lost"] = exc
                trial_stop.set()
        emit(SweepEvent(event.kind, number, params, state["value"], "RUNNING", event))

    path = trial_checkpoint(study.study_name, number)
    extra = {CHECKPOINT_KEY: {"study": study.study_name, "trial": number}}
    try:
        result = train(
            cfg,
            data,
            callback=on_train,
            stop=trial_stop,
            checkpoint_path=path,
            val_points=spec.val_points,
            checkpoint_extra=extra,
        )
    except (ValueError, CheckpointWriteError) as exc:
        return _finish(study, trial, emit, params, TrialState.FAIL, None, _first_line(exc)), "error"

    if state["lost"] is not None:
        try:
            study.tell(trial, state=TrialState.FAIL)
            marked = "marked failed"
        except lost:
            marked = "left as running (it could not be marked failed)"
        message = (
            f"the sweep's database stopped answering during trial {number} ({_first_line(state['lost'])}); "
            f"the trial is {marked}; checkpoints of completed trials are kept"
        )
        emit(SweepEvent("trial_end", number, params, state["value"], "FAIL", None, message))
        raise _StorageLost(message)
    try:
        if state["pruned"]:
            path.unlink(missing_ok=True)  # a partial run of a poor trial: not a model to offer
            return _finish(study, trial, emit, params, TrialState.PRUNED, state["value"], "pruned"), "pruned"
        if result.stopped:
            reason = "time cap" if state["capped"] else "stop"
            why = "stopped at the sweep's time cap" if state["capped"] else "stopped"
            return _finish(study, trial, emit, params, TrialState.FAIL, state["value"], why), reason
        value = result.history["epochs"][-1]["val_acc"]
        trial.set_user_attr("checkpoint", str(result.checkpoint))
        for key in ("test_accuracy", "train_seconds"):
            if key in result.metrics:
                trial.set_user_attr(key, result.metrics[key])
        return _finish(study, trial, emit, params, TrialState.COMPLETE, value, "complete"), "complete"
    except lost as exc:
        message = f"the sweep's database stopped answering after trial {number} trained ({_first_line(exc)}); its checkpoint is kept"
        emit(SweepEvent("trial_end", number, params, state["value"], "FAIL", None, message))
        raise _StorageLost(message) from None


def _finish(study, trial, emit, params, state: TrialState, value, message: str) -> str:
    if state == TrialState.FAIL:
        trial.set_user_attr("fail_reason", message)
    study.tell(trial, value if state == TrialState.COMPLETE else None, state=state)
    emit(SweepEvent("trial_end", trial.number, params, value, state.name, None, message))
    return state.name


def _standing(study, storage, ran, seconds, stopped, error) -> SweepResult:
    try:
        if not error:
            _fail_stale_trials(study)  # a dead worker's trial counts as failed, not running
        trials = study.get_trials(deepcopy=False)
    except _storage_errors():
        trials = []
    count = {s: sum(t.state == s for t in trials) for s in TrialState}
    done = [t for t in trials if t.state == TrialState.COMPLETE and t.value is not None]
    best = max(done, key=lambda t: t.value) if done else None
    return SweepResult(
        study=study.study_name,
        storage=shown_url(storage.url),
        complete=count[TrialState.COMPLETE],
        pruned=count[TrialState.PRUNED],
        failed=count[TrialState.FAIL],
        running=count[TrialState.RUNNING],
        ran=ran,
        best_trial=best.number if best else None,
        best_value=best.value if best else None,
        best_params=dict(best.params) if best else None,
        best_checkpoint=best.user_attrs.get("checkpoint") if best else None,
        seconds=round(seconds, 2),
        stopped=stopped,
        error=error,
    )


def _summary(r: SweepResult) -> str:
    text = f"study {r.study}: {r.complete} complete, {r.pruned} pruned, {r.failed} failed"
    if r.best_trial is not None:
        text += f"; best trial {r.best_trial}: val accuracy {r.best_value:.2%} ({r.best_checkpoint})"
    if r.stopped:
        text += f"; ended early ({r.stopped})"
    if r.error:
        text += f"; {r.error}"
    return text


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]
