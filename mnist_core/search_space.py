"""A sweep's search space, derived from TrainConfig's field metadata: which fields vary, and how.

A field varies within its `search=(lo, hi)` range if it has one, else within min..max (log scale if
the field or its `search_log` says so); choices and booleans become categorical. `search=False`
fields (device, seed, data sizes, MLP layer list) are never varied. Fixed fields pin a value.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

from .config import TrainConfig, coerce, field_type, fields

# What a sweep varies unless told otherwise: the knobs that matter most for one short cnn run.
DEFAULT_VARY = ("lr", "batch_size", "dropout", "weight_decay", "label_smoothing")


class SearchSpaceError(ValueError):
    """A --vary/--fix request that names unknown, unsearchable or conflicting fields, or bad values."""


def _fields() -> dict[str, dataclasses.Field]:
    return {f.name: f for f in fields()}


def searchable(f: dataclasses.Field) -> bool:
    """Whether a sweep may vary this field (it has choices, a range or is boolean, and is not search=False)."""
    m = f.metadata
    if m.get("search") is False or m.get("kind") == "int_list":
        return False
    return "choices" in m or "min" in m or field_type(f) is bool


def searchable_names() -> tuple[str, ...]:
    return tuple(f.name for f in fields() if searchable(f))


def distribution(f: dataclasses.Field) -> BaseDistribution:
    """The Optuna distribution a sweep samples this field from."""
    m = f.metadata
    if "choices" in m:
        return CategoricalDistribution(list(m["choices"]))
    kind = field_type(f)
    if kind is bool:
        return CategoricalDistribution([False, True])
    lo, hi = m["search"] if isinstance(m.get("search"), tuple) else (m["min"], m["max"])
    log = bool(m.get("search_log", m.get("log", False)))
    if kind is int:
        return IntDistribution(int(lo), int(hi), log=log)
    return FloatDistribution(float(lo), float(hi), log=log)


def parse_names(text: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """'lr, dropout' or ['lr', 'dropout'] -> ('lr', 'dropout'); dashes read as underscores."""
    if text is None:
        return ()
    parts = text.split(",") if isinstance(text, str) else list(text)
    return tuple(dict.fromkeys(p.strip().replace("-", "_") for p in parts if p.strip()))


def parse_fixed(text: str | dict[str, Any] | None) -> dict[str, Any]:
    """'model=cnn,epochs=2,hidden_sizes=256,128' -> dict; a part without '=' continues the previous value."""
    if text is None:
        return {}
    if isinstance(text, dict):
        return {str(k).strip().replace("-", "_"): v for k, v in text.items()}
    pairs: dict[str, str] = {}
    last = None
    for part in text.split(","):
        if "=" in part:
            name, value = part.split("=", 1)
            last = name.strip().replace("-", "_")
            if not last:
                raise SearchSpaceError(f"--fix: {part!r} has no field name before '='")
            pairs[last] = value.strip()
        elif last is not None and part.strip():
            pairs[last] += "," + part.strip()
        elif part.strip():
            raise SearchSpaceError(f"--fix: {part.strip()!r} is not of the form field=value")
    return pairs


@dataclass(frozen=True)
class SearchSpace:
    """The distributions of the varied fields, and the config every trial starts from."""

    distributions: dict[str, BaseDistribution]
    base: TrainConfig

    def config(self, params: dict[str, Any]) -> TrainConfig:
        """The trial's full config: base with the sampled params; ValueError if the mix is invalid."""
        return self.base.replace(**params)


def build_space(vary: Any = None, fixed: Any = None) -> SearchSpace:
    """Check the requested fields against TrainConfig and build the space; SearchSpaceError names the culprits."""
    names = parse_names(vary) or DEFAULT_VARY
    pinned = parse_fixed(fixed)
    known = _fields()
    unknown = [n for n in (*names, *pinned) if n not in known]
    if unknown:
        raise SearchSpaceError(f"unknown field(s): {', '.join(dict.fromkeys(unknown))}")
    both = [n for n in names if n in pinned]
    if both:
        raise SearchSpaceError(f"field(s) both varied and fixed: {', '.join(both)}")
    unsearchable = [n for n in names if not searchable(known[n])]
    if unsearchable:
        raise SearchSpaceError(
            f"field(s) a sweep cannot vary: {', '.join(unsearchable)} (fix them instead; "
            f"searchable: {', '.join(searchable_names())})"
        )
    try:
        base = TrainConfig.from_dict({k: coerce(known[k], v) for k, v in pinned.items()})
    except ValueError as exc:
        raise SearchSpaceError(f"--fix: {exc}") from None
    if base.val_size == 0:
        raise SearchSpaceError("--fix: val_size=0 leaves no validation images, and a sweep scores trials on them")
    return SearchSpace({n: distribution(known[n]) for n in names}, base)
