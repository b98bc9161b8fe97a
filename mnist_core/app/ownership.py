"""Who owns each run: a small JSON file (`owners.json`) in the checkpoint folder, written atomically.

A run is owned by the visitor who started it (`visitors.visitor_id`); a sweep's trials, named
`<study>-trial<N>`, by the visitor who started the sweep. The file lives beside the checkpoints so a
restart keeps the owners; a missing or unreadable file counts as "nobody owns anything" (logged),
never as an error: ownership decides what a visitor may delete, not whether the server runs.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable
from pathlib import Path

from ..atomic import atomic_write_bytes
from ..checkpoint_paths import checkpoint_dir

log = logging.getLogger(__name__)

FILE_NAME = "owners.json"
_TRIAL = re.compile(r"^(?P<study>.+)-trial\d+$")  # sweep.trial_checkpoint's stem


def study_of(run_name: str) -> str | None:
    """The study a sweep trial's run `<study>-trial<N>` belongs to (None: not a trial's name)."""
    trial = _TRIAL.match(run_name)
    return trial["study"] if trial else None


def is_protected(run_name: str, protected: set[str]) -> bool:
    """Whether `run_name` is one of `protected` (run names, and studies standing for all their trials)."""
    return run_name in protected or study_of(run_name) in protected


# One lock for every Owners of this process: the job manager records and the registry forgets through
# instances of their own, over the same file, and each update is a read-modify-write of the whole file.
_LOCK = threading.Lock()


class Owners:
    """Run name -> owner id, and study -> owner id for every `<study>-trial<N>` run; thread-safe."""

    def __init__(self, directory: Callable[[], Path] = checkpoint_dir) -> None:
        self._directory = directory  # called at each use: follows MNIST_CHECKPOINT_DIR like the registry
        self._lock = _LOCK

    @property
    def path(self) -> Path:
        """The owners file."""
        return Path(self._directory()) / FILE_NAME

    def record(self, run_name: str, owner: str) -> None:
        """`run_name` (a checkpoint's stem) belongs to `owner`."""
        self._update("runs", run_name, owner)

    def record_study(self, study: str, owner: str) -> None:
        """Every `<study>-trial<N>` run belongs to `owner`."""
        self._update("studies", study, owner)

    def owner_of(self, run_name: str) -> str | None:
        """Who started `run_name`, or None (the bundled model, a run from the CLI or from before owners)."""
        with self._lock:
            data = self._read()
        owner = data["runs"].get(run_name)
        return owner if owner is not None else data["studies"].get(study_of(run_name) or "")

    def owned_by(self, owner: str, names: list[str]) -> set[str]:
        """Which of `names` belong to `owner` (one read of the file for a whole table)."""
        with self._lock:
            data = self._read()
        mine = set()
        for name in names:
            found = data["runs"].get(name)
            if found is None:
                found = data["studies"].get(study_of(name) or "")
            if found == owner:
                mine.add(name)
        return mine

    def forget(self, run_name: str) -> None:
        """Drop `run_name`'s entry (its run was deleted); a study's entry stays for its other trials."""
        with self._lock:
            data = self._read()
            if data["runs"].pop(run_name, None) is not None:
                self._write(data)

    def _update(self, section: str, key: str, owner: str) -> None:
        with self._lock:
            data = self._read()
            if data[section].get(key) != owner:
                data[section][key] = owner
                self._write(data)

    def _read(self) -> dict[str, dict[str, str]]:
        """The file's content; empty when missing, and logged as well when unreadable or malformed."""
        path = self.path
        empty: dict[str, dict[str, str]] = {"runs": {}, "studies": {}}
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return empty
        except (OSError, ValueError) as exc:
            log.warning("ignoring the owners file %s: %s", path.name, exc)
            return empty
        if not isinstance(raw, dict):
            log.warning("ignoring the owners file %s: not a JSON object", path.name)
            return empty
        for section in empty:
            entries = raw.get(section)
            if isinstance(entries, dict):
                empty[section] = {str(k): str(v) for k, v in entries.items() if isinstance(v, str)}
        return empty

    def _write(self, data: dict[str, dict[str, str]]) -> None:
        """Replace the file whole; a failure is logged, never raised (a run is not refused for its owner)."""
        path = self.path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(path, json.dumps(data, indent=1, sort_keys=True).encode("utf-8"), durable=False)
        except OSError as exc:
            log.warning("could not write the owners file %s: %s", path.name, exc)
