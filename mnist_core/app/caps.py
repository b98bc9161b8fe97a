"""Server-side limits on training, read from the environment, for public deployments.

- MNIST_TRAINING_DISABLED=1: training is off.
- MNIST_MAX_EPOCHS=N: a config asking for more epochs is refused.
- MNIST_MAX_TRAIN_SECONDS=S: a run is stopped (keeping its last completed epoch) S seconds after it was
  started, loading MNIST included; the final test evaluation of the kept epoch is let finish.
- MNIST_MAX_SWEEP_TRIALS=N, MNIST_MAX_SWEEP_SECONDS=S: a sweep asks for at most N trials and ends S
  seconds after it started (its running trial is stopped, completed trials are kept). On a Hugging
  Face Space (SPACE_ID set) they default to 10 trials and 600 s. MNIST_MAX_EPOCHS applies to every
  trial; MNIST_TRAINING_DISABLED turns sweeps off too.

The job manager (jobs.py) checks a request against them before it starts, and keeps the time caps.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..config import TrainConfig
from ..search_space import build_space
from ..sweep import SweepSpec

log = logging.getLogger(__name__)

SPACE_SWEEP_TRIALS, SPACE_SWEEP_SECONDS = 10, 600.0  # sweep caps on a Hugging Face Space unless set


class JobError(RuntimeError):
    """A training request the server refuses (busy, disabled, over a cap); the message is for the user."""


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
            training_disabled=disabled,
            max_epochs=_positive(env, "MNIST_MAX_EPOCHS", int),
            max_train_seconds=_positive(env, "MNIST_MAX_TRAIN_SECONDS", float),
            max_sweep_trials=trials if trials is not None or not space else SPACE_SWEEP_TRIALS,
            max_sweep_seconds=seconds if seconds is not None or not space else SPACE_SWEEP_SECONDS,
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
        spec.validate()  # study name and trial count, as the CLI and run_sweep check them
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
    """The variable as a positive `kind`; None when unset, not a number (logged) or not positive."""
    raw = env.get(name, "").strip()
    if not raw:
        return None
    try:
        value = kind(float(raw)) if kind is int else kind(raw)
    except ValueError:
        log.warning("ignoring %s=%r: not a number", name, raw)
        return None
    return value if value > 0 else None
