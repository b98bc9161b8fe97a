"""The registry of trained models a server offers: the bundled default plus every checkpoint on disk.

The UI only ever sends back a run's NAME; `RunRegistry.resolve` maps it to a path through the
list the server built itself, so a client can never make the server open a path of its choosing.
Metadata, loaded predictors and evaluation results are cached by (path, mtime, size), so a
checkpoint rewritten by a training run is read again and an unchanged one is not.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..checkpoint_paths import BUNDLED_DEFAULT, CheckpointError, checkpoint_dir, remove_stale_temp_files
from ..config import TrainConfig

if TYPE_CHECKING:  # imported lazily at run time: listing runs needs neither
    from ..data import MNISTTensors
    from ..evaluate import EvalResult
    from ..predict import Predictor

DEFAULT_NAME = "default (bundled)"
RUN_COLUMNS = [
    "name",
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

    def dataframe(self) -> pd.DataFrame:
        """All runs as a table: key hyperparameters, final metrics, duration, device, creation time."""
        return pd.DataFrame([run.row() for run in self.runs], columns=RUN_COLUMNS)


def _file_key(path: Path) -> tuple[str, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (str(path), st.st_mtime_ns, st.st_size)


class RunRegistry:
    """Lists checkpoints, caches their metadata, loaded predictors and evaluations; thread-safe."""

    def __init__(
        self, directory: Path | None = None, bundled: Path | None = BUNDLED_DEFAULT, max_predictors: int = 4
    ) -> None:
        self._directory = directory  # None: checkpoint_dir() at each listing (follows the env var)
        self._bundled = bundled
        self._lock = threading.Lock()
        self._meta: dict[tuple[str, int, int], RunInfo | str] = {}
        self._predictors: OrderedDict[tuple[str, int, int], Any] = OrderedDict()
        self._evaluations: OrderedDict[tuple[str, int, int], Any] = OrderedDict()
        self._max_predictors = max_predictors

    @property
    def directory(self) -> Path:
        """The folder of trained runs."""
        return self._directory or checkpoint_dir()

    def listing(self) -> Listing:
        """Every readable checkpoint; unreadable ones go to `problems`, never raise."""
        out = Listing()
        for name, path in self._candidates(out.problems):
            info = self._info(name, path)
            if isinstance(info, RunInfo):
                out.runs.append(info)
            else:
                out.problems.append((path.name, info))
        return out

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

    def _info(self, name: str, path: Path) -> RunInfo | str:
        """Metadata of one file (cached), or the reason it cannot be read."""
        key = _file_key(path)
        if key is None:
            return "file vanished while listing"
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
        except CheckpointError as exc:
            info = str(exc)
        except Exception as exc:  # noqa: BLE001 - e.g. a file being replaced; report, never crash the listing
            info = f"{path.name}: unreadable ({type(exc).__name__})"
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
