"""Server-side limits on training, read from the environment, for public deployments.

- MNIST_TRAINING_DISABLED=1: training is off.
- MNIST_MAX_EPOCHS=N: a config asking for more epochs is refused.
- MNIST_MAX_TRAIN_SECONDS=S: a run is stopped (keeping its last completed epoch) S seconds after it was
  started, loading MNIST included; the final test evaluation of the kept epoch is let finish.
- MNIST_MAX_SWEEP_TRIALS=N, MNIST_MAX_SWEEP_SECONDS=S: a sweep asks for at most N trials and ends S
  seconds after it started (its running trial is stopped, completed trials are kept). MNIST_MAX_EPOCHS
  applies to every trial; MNIST_TRAINING_DISABLED turns sweeps off too.
- MNIST_MAX_QUEUE=N: at most N jobs wait in line behind the running one.
- MNIST_KEEP_RUNS=N: at most N trained runs are kept (the oldest removed first).

On a Hugging Face Space (SPACE_ID set) each unset limit takes its Space default (`LIMITS`), so a shared
server is safe by itself; locally only the queue is bounded. A limit set to `none` is lifted (e.g. a Space
on bigger hardware with MNIST_MAX_EPOCHS=none); an unreadable or non-positive value is ignored (logged).
`python -m mnist_core.app.caps` prints the README's table of the defaults. The job manager (jobs.py) checks a request
against them before it starts, and keeps the time caps.
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


@dataclass(frozen=True)
class Limit:
    """One server limit: its Caps field, environment variable, defaults locally and on a Space, and its words."""

    field: str
    env: str
    kind: type
    local: float | None  # None: no limit
    space: float | None
    what: str  # for the README's and the Train tab's table
    unit: str = ""


# The one table of limits: Caps.from_env, the Train tab's list and the README's table derive from it.
# Space defaults: a free Space has 2 vCPU like our development machines, where the default recipe trains in
# seconds and cnn_large_best (20 epochs) in 4-7 minutes, so it fits the time limit (the bundled ensemble's
# recipe, about 25 minutes, is stopped at it with its last whole epoch); ten jobs in line is about the
# longest wait worth offering.
LIMITS = (
    Limit("max_epochs", "MNIST_MAX_EPOCHS", int, None, 20, "epochs per run"),
    Limit("max_train_seconds", "MNIST_MAX_TRAIN_SECONDS", float, None, 600.0, "seconds per run", " s"),
    Limit("max_sweep_trials", "MNIST_MAX_SWEEP_TRIALS", int, None, 10, "trials per sweep"),
    Limit("max_sweep_seconds", "MNIST_MAX_SWEEP_SECONDS", float, None, 600.0, "seconds per sweep", " s"),
    Limit("max_queue", "MNIST_MAX_QUEUE", int, 16, 10, "jobs waiting in line"),
    Limit("keep_runs", "MNIST_KEEP_RUNS", int, None, 30, "trained runs kept (oldest removed first)"),
)


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
    max_queue: int | None = 16
    keep_runs: int | None = None
    space: bool = False  # the limits are a Hugging Face Space's (SPACE_ID set)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Caps:
        """Read MNIST_TRAINING_DISABLED and each of `LIMITS`; an unset limit takes its default (a Space's with SPACE_ID)."""
        env = os.environ if env is None else env
        disabled = env.get("MNIST_TRAINING_DISABLED", "").strip().lower() in ("1", "true", "yes", "on")
        space = bool(env.get("SPACE_ID"))  # a public Space: no visitor may hold the server or its disk for ever
        values = {}
        for limit in LIMITS:
            default = limit.space if space else limit.local
            values[limit.field] = _read(env, limit, None if default is None else limit.kind(default))
        return cls(training_disabled=disabled, space=space, **values)

    def limited(self) -> bool:
        """Whether anything is limited beyond the local defaults (a Space, a cap set, training off)."""
        local = {limit.field: limit.local for limit in LIMITS}
        return self.space or self.training_disabled or any(getattr(self, k) != v for k, v in local.items())

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
        """One line for the UI: what this server allows ("" where nothing is limited but the line)."""
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
        if self.keep_runs is not None:
            limits.append(f"the newest {self.keep_runs} runs are kept")
        where = "this shared Space" if self.space else "this server"
        return (f"Limits on {where}: " + "; ".join(limits) + ".") if limits else ""

    def table(self) -> list[tuple[str, str, str]]:
        """(what, variable, value here) for each limit, for the Train tab's list."""
        return [
            (limit.what, limit.env, "none" if (v := getattr(self, limit.field)) is None else f"{v:g}{limit.unit}")
            for limit in LIMITS
        ]


def _read(env: Mapping[str, str], limit: Limit, default: Any) -> Any:
    """The limit's variable as a positive number; None for `none` (lifted); `default` when unset or unreadable."""
    raw = env.get(limit.env, "").strip()
    if not raw:
        return default
    if raw.lower() == "none":
        return None
    try:
        value = limit.kind(float(raw)) if limit.kind is int else limit.kind(raw)
    except ValueError:
        log.warning("ignoring %s=%r: not a number", limit.env, raw)
        return default
    if not value > 0:  # NaN too
        log.warning("ignoring %s=%r: not positive", limit.env, raw)
        return default
    return value


def readme_table() -> str:
    """The README's table of the limits' defaults, locally and on a Space (tests/test_space.py keeps them equal)."""

    def shown(limit: Limit, value: float | None) -> str:
        return "none" if value is None else f"{limit.kind(value):g}{limit.unit}"

    rows = [
        f"| {limit.what} | `{limit.env}` | {shown(limit, limit.local)} | {shown(limit, limit.space)} |"
        for limit in LIMITS
    ]
    return "\n".join(
        ["| limit | variable | locally | on a Space (`SPACE_ID` set) |", "| --- | --- | --- | --- |", *rows]
    )


if __name__ == "__main__":
    print(readme_table())
