"""The registry of trained models a server offers: the bundled default plus every checkpoint on disk.

The UI only ever sends back a run's NAME; `RunRegistry.resolve` maps it to a path through the
list the server built itself, so a client can never make the server open a path of its choosing.
Metadata, loaded predictors and evaluation results are cached by (path, mtime, size), so a
checkpoint rewritten by a training run is read again and an unchanged one is not.

On a shared server it also knows who owns each run (ownership.py), which runs open pages are showing
(`note_in_use`, from each page's 1 s poll), and keeps at most `keep_runs` trained runs: whenever a
listing finds a set of checkpoints it has not seen, the oldest beyond the limit are removed, never the
bundled model, a run of the running or a queued job, a run a page is showing (`retain`), or the newest.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..checkpoint_paths import BUNDLED_DEFAULT, CheckpointError, checkpoint_dir, remove_stale_temp_files
from ..config import TrainConfig
from .ownership import Owners, is_protected

if TYPE_CHECKING:  # imported lazily at run time: listing runs needs neither
    from pandas.io.formats.style import Styler

    from ..data import MNISTTensors
    from ..evaluate import EvalResult
    from ..predict import Predictor

log = logging.getLogger(__name__)

DEFAULT_NAME = "default (bundled)"
IN_USE_SECONDS = 10.0  # a page polls each second: one not heard from for this long is closed
SIDE_SUFFIXES = (".inside.npz",)  # files kept beside a checkpoint (embedding.CACHE_SUFFIX), removed with it
RUN_COLUMNS = [
    "name",
    "yours",
    "status",
    "study",
    "test_acc",
    "val_acc",
    "test_loss",
    "train_seconds",
    "epochs",
    "model",
    "train_images",
    "batch_size",
    "optimizer",
    "lr",
    "scheduler",
    "weight_decay",
    "dropout",
    "augmentation",
    "seed",
    "device",
    "created",
]


class UnknownRunError(CheckpointError):
    """A run name that is not in the server's list (a stale page, a typo or a path someone tried)."""


@dataclass(frozen=True)
class RunInfo:
    """What the UI shows about one checkpoint, read from its metadata (weights not kept)."""

    name: str
    path: Path
    config: TrainConfig
    metrics: dict
    history: dict
    created: str
    device: str
    stopped: bool
    sweep: dict = field(default_factory=dict)  # a sweep trial's {"study", "trial"} (payload key "sweep")

    @property
    def status(self) -> str:
        """'done', 'stopped', or 'partial' (a run still training, or one that was interrupted)."""
        if "test_accuracy" not in self.metrics:
            return "partial"
        return "stopped" if self.stopped else "done"

    @property
    def val_accuracy(self) -> float | None:
        """Validation accuracy after the last completed epoch, if the run held out a validation set."""
        epochs = self.history.get("epochs") or []
        return epochs[-1].get("val_acc") if epochs else None

    def row(self) -> dict[str, Any]:
        """One row of the runs table."""
        cfg, m = self.config, self.metrics
        aug = [f"rot {cfg.rotation:g}°" if cfg.rotation else "", f"shift {cfg.shift:g}" if cfg.shift else ""]
        aug.append(f"scale {cfg.scale:g}" if cfg.scale else "")
        return {
            "name": self.name,
            "status": self.status,
            "study": f"{self.sweep.get('study')} #{self.sweep.get('trial')}" if self.sweep else "",
            "model": cfg.model if cfg.model != "mlp" else f"mlp {cfg.hidden_sizes}",
            "epochs": f"{m.get('epochs_completed', len(self.history.get('epochs') or []))}/{cfg.epochs}",
            "batch_size": cfg.batch_size,
            "optimizer": cfg.optimizer,
            "lr": cfg.lr,
            "scheduler": cfg.scheduler,
            "weight_decay": cfg.weight_decay,
            "dropout": cfg.dropout,
            "augmentation": ", ".join(a for a in aug if a) or "none",
            "train_images": cfg.train_images,
            "seed": cfg.seed,
            "val_acc": _round(self.val_accuracy),
            "test_acc": _round(m.get("test_accuracy")),
            "test_loss": _round(m.get("test_loss")),
            "train_seconds": _round(m.get("train_seconds"), 1),
            "device": self.device,
            "created": self.created.replace("T", " ")[:19],
        }


def _round(value: Any, digits: int = 4) -> float | None:
    return None if value is None else round(float(value), digits)


FOUR_DECIMALS = ("test_acc", "val_acc", "test_loss")  # shown to the rounding of RunInfo.row()
# The table's headers as a person reads them (the page and the API's `runs`); the rows keep short keys.
HEADERS = {
    "test_acc": "test accuracy",
    "val_acc": "val accuracy",
    "test_loss": "test loss",
    "train_seconds": "train time (s)",
    "train_images": "train images",
    "batch_size": "batch size",
    "weight_decay": "weight decay",
}


@dataclass
class Listing:
    """The runs found, best-known first (bundled default, then newest), and the files that failed."""

    runs: list[RunInfo] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (file name, reason)

    @property
    def names(self) -> list[str]:
        """The run names, in listing order."""
        return [run.name for run in self.runs]

    def get(self, name: str) -> RunInfo | None:
        """The run called `name`, or None."""
        return next((run for run in self.runs if run.name == name), None)

    def dataframe(self, mine: set[str] | None = None, only_mine: bool = False) -> pd.DataFrame:
        """The runs as a table: key hyperparameters, final metrics, duration, device, creation time.

        `mine`: the visitor's runs, marked "yes" in the `yours` column and listed first (then the rest
        in listing order); `only_mine` leaves the others out.
        """
        mine = mine or set()
        runs = [run for run in self.runs if run.name in mine]
        if not only_mine:
            runs += [run for run in self.runs if run.name not in mine]
        rows = [{**run.row(), "yours": "yes" if run.name in mine else ""} for run in runs]
        return pd.DataFrame(rows, columns=RUN_COLUMNS).rename(columns=HEADERS)

    def shown(self, mine: set[str] | None = None, only_mine: bool = False) -> Styler:
        """`dataframe()` as the page shows it: accuracies and losses with four decimals each (0.9610 beside
        0.9588, where the bare numbers read 0.961) and blanks for what a run lacks; the values stay numbers."""
        table = self.dataframe(mine, only_mine)
        # A Styler shows every other float with six decimals (232.400000 s) unless told otherwise.
        shown = table.style.format(lambda v: f"{v:g}" if isinstance(v, float) else v, na_rep="")
        return shown.format("{:.4f}", subset=[HEADERS[c] for c in FOUR_DECIMALS], na_rep="")


def _file_key(path: Path) -> tuple[str, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (str(path), st.st_mtime_ns, st.st_size)


class RunRegistry:
    """Lists checkpoints, caches their metadata, loaded predictors and evaluations; thread-safe."""

    def __init__(
        self,
        directory: Path | None = None,
        bundled: Path | None = BUNDLED_DEFAULT,
        max_predictors: int = 4,
        owners: Owners | None = None,
    ) -> None:
        self._directory = directory  # None: checkpoint_dir() at each listing (follows the env var)
        self._bundled = bundled
        self.owners = owners if owners is not None else Owners(lambda: self.directory)
        self._lock = threading.Lock()
        self._in_use: dict[str, float] = {}  # run name -> when a page last said it shows it (monotonic)
        self.keep_runs: int | None = None  # retention: set by `retain`
        self._protected: Callable[[], set[str]] = set
        self._pruned_for: tuple[str, ...] | None = None  # the checkpoints the last retention pass saw
        self._prune_again_at = float("inf")  # when a pass that had to spare runs over the limit is retried
        self._meta: dict[tuple[str, int, int], RunInfo | str] = {}
        self._predictors: OrderedDict[tuple[str, int, int], Any] = OrderedDict()
        self._evaluations: OrderedDict[tuple[str, int, int], Any] = OrderedDict()
        self._max_predictors = max_predictors

    @property
    def directory(self) -> Path:
        """The folder of trained runs."""
        return self._directory or checkpoint_dir()

    def listing(self) -> Listing:
        """Every readable checkpoint; unreadable ones go to `problems`, never raise. A new set of
        checkpoints is first trimmed to `keep_runs` (see `prune`)."""
        out = Listing()
        candidates = self._candidates(out.problems)
        if self.keep_runs is not None:
            removed = self._prune_if_new(candidates)
            candidates = [(name, path) for name, path in candidates if name not in removed]
        for name, path in candidates:
            info = self._info(name, path)
            if isinstance(info, RunInfo):
                out.runs.append(info)
            elif info is not None:  # None: removed meanwhile (a delete, retention): not a problem
                out.problems.append((path.name, info))
        return out

    # ----------------------------------------------------------------------------- owners and retention
    def owned(self, owner: str | None, listing: Listing) -> set[str]:
        """The names in `listing` that `owner` started (none for no owner)."""
        return self.owners.owned_by(owner, listing.names) if owner else set()

    def note_in_use(self, name: str | None) -> None:
        """A page is showing run `name` now (its poll says so each second): retention leaves it alone."""
        if name:
            with self._lock:
                self._in_use[str(name)] = time.monotonic()

    def in_use(self) -> set[str]:
        """The runs some page showed within the last IN_USE_SECONDS (older reports are forgotten)."""
        now = time.monotonic()
        with self._lock:
            self._in_use = {name: t for name, t in self._in_use.items() if now - t < IN_USE_SECONDS}
            return set(self._in_use)

    def retain(self, keep_runs: int | None, protected: Callable[[], set[str]] = set) -> None:
        """Keep at most `keep_runs` trained runs (None: all); `protected()` names runs never removed
        (the running and the queued jobs' runs)."""
        self.keep_runs, self._protected, self._pruned_for = keep_runs, protected, None

    def prune(self) -> list[str]:
        """Remove the oldest trained runs beyond `keep_runs`, except the protected and those in use;
        returns the names removed."""
        return self._prune(self._candidates([]))

    def _prune_if_new(self, candidates: list[tuple[str, Path]]) -> set[str]:
        """`_prune` when the checkpoints differ from those of the last pass (a run appeared, or one was
        deleted), or when that pass left runs over the limit that pages were showing and IN_USE_SECONDS
        have passed (they may be closed now): a listing each second per page costs one comparison."""
        names = tuple(name for name, _ in candidates)
        now = time.monotonic()
        with self._lock:
            if names == self._pruned_for and now < self._prune_again_at:
                return set()
            self._pruned_for, self._prune_again_at = names, float("inf")
        removed = self._prune(candidates)
        left = sum(1 for name, path in candidates if path != self._bundled and name not in removed)
        if self.keep_runs is not None and left > self.keep_runs:
            with self._lock:
                self._prune_again_at = now + IN_USE_SECONDS
        return set(removed)

    def _prune(self, candidates: list[tuple[str, Path]]) -> list[str]:
        keep = self.keep_runs
        trained = [(name, path) for name, path in candidates if path != self._bundled]  # newest first
        if keep is None or len(trained) <= keep:
            return []
        try:
            # The newest run too: one that just ended is its owner's to see, even when pages hold all the others.
            spared = set(self._protected()) | self.in_use() | {trained[0][0]}
        except Exception:  # noqa: BLE001 - not knowing what runs is no reason to guess: remove nothing now
            log.exception("retention skipped: the protected runs are unknown")
            with self._lock:
                self._pruned_for = None
            return []
        removed = []
        excess = len(trained) - keep
        for name, path in reversed(trained):  # oldest first
            if excess <= 0:
                break
            if is_protected(name, spared):
                continue
            if self._remove_files(name, path):
                removed.append(name)
                excess -= 1
        if removed:
            log.info("removed %d run(s) beyond MNIST_KEEP_RUNS=%d: %s", len(removed), keep, ", ".join(removed))
        return removed

    def remove(self, name: str) -> Path:
        """Delete trained run `name` (its checkpoint, side files and owner entry); UnknownRunError if
        it is not a trained run of this folder (the bundled model is not one). Returns its old path."""
        path = next((p for n, p in self._candidates([]) if n == name and p != self._bundled), None)
        if path is None:
            raise UnknownRunError(f"unknown run {str(name)[:80]!r}")
        self._remove_files(name, path)
        return path

    def _remove_files(self, name: str, path: Path) -> bool:
        """Unlink the checkpoint first (one atomic step: a listing either still sees the run or does not),
        then its side files and owner entry, and drop what was cached of it. False if it could not be."""
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("could not remove run %s: %s", name, exc)
            return False
        for suffix in SIDE_SUFFIXES:
            with contextlib.suppress(OSError):  # a cache file left behind is harmless: never fail a removal for it
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        self.owners.forget(name)
        with self._lock:
            for cache in (self._meta, self._predictors, self._evaluations):
                for key in [k for k in cache if k and k[0] == str(path)]:
                    del cache[key]
        return True

    def names_on_disk(self) -> list[str]:
        """The listing's names from the file names alone, none opened (no torch needed): what the page
        is built with, so that it is served before torch loads; its first poll replaces them with
        `names()` (which leaves out files that cannot be read)."""
        return [name for name, _ in self._candidates([])]

    def _candidates(self, problems: list[tuple[str, str]]) -> list[tuple[str, Path]]:
        """(name, path) of the bundled default, then every checkpoint file, newest first."""
        candidates: list[tuple[str, Path]] = []
        seen: set[Path] = set()
        if self._bundled is not None and self._bundled.is_file():
            candidates.append((DEFAULT_NAME, self._bundled))
            seen.add(self._bundled.resolve())
        remove_stale_temp_files(self.directory)  # leftovers of killed saves
        try:
            files = sorted(self.directory.glob("*.pt"), key=lambda p: (-_mtime(p), p.name))
        except OSError as exc:
            files = []
            # Named by its last part only: the problems reach web visitors, the server's paths must not.
            problems.append((self.directory.name, f"cannot list the checkpoint folder ({exc.strerror or exc})"))
        for path in files:
            if path.name.startswith(".") or not path.is_file() or path.resolve() in seen:
                continue
            seen.add(path.resolve())
            candidates.append((path.stem, path))
        return candidates

    def _info(self, name: str, path: Path) -> RunInfo | str | None:
        """Metadata of one file (cached), the reason it cannot be read, or None if it is gone."""
        key = _file_key(path)
        if key is None:
            return None  # removed since the folder was listed
        with self._lock:
            cached = self._meta.get(key)
        if cached is not None:
            return cached
        from ..checkpoint import read_checkpoint  # torch: loaded on the first listing, not at import

        try:
            payload = read_checkpoint(path)
            payload.pop("state_dict", None)
            info: RunInfo | str = RunInfo(
                name=name,
                path=path,
                config=payload["config"],
                metrics=dict(payload.get("metrics") or {}),
                history=dict(payload.get("history") or {}),
                created=str(payload.get("created", "")),
                device=str(payload.get("device", "?")),
                stopped=bool(payload.get("stopped", False)),
                sweep=dict(payload.get("sweep") or {}),
            )
        except Exception as exc:  # noqa: BLE001 - e.g. a file being replaced; report, never crash the listing
            if not path.exists():
                return None  # deleted (or removed by retention) between the stat and the read: not a problem
            info = str(exc) if isinstance(exc, CheckpointError) else f"{path.name}: unreadable ({type(exc).__name__})"
        with self._lock:
            self._meta = {k: v for k, v in self._meta.items() if k[0] != key[0]}
            self._meta[key] = info
        return info

    def names(self) -> list[str]:
        """Names for a model picker, bundled default first."""
        return self.listing().names

    def resolve(self, name: str | None) -> Path:
        """The path of the run called `name`, looked up ONLY in the server-built listing."""
        return self.info(name).path

    def info(self, name: str | None) -> RunInfo:
        """The run called `name` in a fresh listing (None or "": the first, i.e. the bundled default)."""
        listing = self.listing()
        if not listing.runs:
            raise UnknownRunError("no trained model is available yet: train one in the Train tab")
        if name is None or name == "":
            return listing.runs[0]
        run = listing.get(str(name))
        if run is None:
            shown = str(name)[:80]
            raise UnknownRunError(f"unknown model {shown!r}: choose one of {', '.join(listing.names)}")
        return run

    def dataframe(self) -> pd.DataFrame:
        """All runs as a table (see `Listing.dataframe`)."""
        return self.listing().dataframe()

    def predictor(self, name: str | None) -> Predictor:
        """A loaded Predictor for the run (LRU-cached; reloaded when the file changes)."""
        from ..predict import Predictor

        path = self.resolve(name)
        return self._cached(self._predictors, _file_key(path), lambda: Predictor.from_checkpoint(path))

    def evaluation(self, name: str | None, data: MNISTTensors | None = None) -> EvalResult:
        """EvalResult of the run on the 10,000 test images (LRU-cached per file version)."""
        from ..data import load_mnist_cached
        from ..evaluate import evaluate

        predictor = self.predictor(name)

        def run() -> EvalResult:
            test = data or load_mnist_cached()
            return evaluate(predictor.model, test.test_images, test.test_labels)

        return self._cached(self._evaluations, _file_key(predictor.path), run)

    def _cached(self, cache: OrderedDict, key: Any, make: Any) -> Any:
        """cache[key], else make() stored under key; the least recently used entries beyond the limit go."""
        with self._lock:
            if key in cache:
                cache.move_to_end(key)
                return cache[key]
        value = make()  # outside the lock: loading or evaluating must not hold up other requests
        with self._lock:
            cache[key] = value
            while len(cache) > self._max_predictors:
                cache.popitem(last=False)
        return value


def _mtime(path: Path) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0
