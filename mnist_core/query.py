"""A training config in a URL query, both ways: `?preset=mlp_classic&epochs=3` <-> every field's value.

Parsing never fails: each part it cannot use (unknown preset, unknown field, a value outside the
field's range, a combination TrainConfig refuses) is left out and named in a warning, so a page
opened from a bad link still loads, with the rest applied. Encoding writes only what differs from
the preset (or the defaults), so a shared link stays short.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple
from urllib.parse import urlencode

from .config import TrainConfig, fields, parse_value
from .presets import PRESETS, get_preset

PRESET_KEY = "preset"
MAX_VALUE_CHARS = 64  # a longer value is refused without echoing it whole


class ParsedQuery(NamedTuple):
    """`values`: every field, ready for the form; `warnings`: one sentence per ignored part;
    `preset`: the preset applied, or None."""

    values: dict[str, Any]
    warnings: list[str]
    preset: str | None


def _single(value: str | Sequence[str]) -> str:
    """The last value of a repeated key (parse_qs gives lists), as the browser's URLSearchParams.set would keep."""
    if isinstance(value, (list, tuple)):
        return str(value[-1]) if value else ""
    return str(value)


def _short(text: str) -> str:
    return text if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS] + "..."


def parse_query(query: Mapping[str, str | Sequence[str]]) -> ParsedQuery:
    """Turn a URL's query parameters into a full, valid set of field values plus warnings.

    `preset` picks the starting values (else TrainConfig's defaults); each other key names a field
    (`batch_size` or `batch-size`) whose value replaces the preset's if it is valid.
    """
    warnings: list[str] = []
    by_name = {f.name: f for f in fields()}
    preset = None
    base = TrainConfig()
    if PRESET_KEY in query:
        name = _single(query[PRESET_KEY]).strip()
        try:
            base = get_preset(name).config()
            preset = name
        except ValueError:
            warnings.append(
                f"preset {_short(name)!r} is unknown (known: {', '.join(PRESETS)}); ignored, starting from the defaults"
            )

    pending: dict[str, Any] = {}
    for key, raw in query.items():
        if key == PRESET_KEY:
            continue
        name = str(key).strip().replace("-", "_")
        value = _single(raw)
        if name not in by_name:
            warnings.append(f"{_short(str(key))!r} is not a training setting; ignored")
            continue
        if len(value) > MAX_VALUE_CHARS:
            warnings.append(f"{name}: value {_short(value)!r} is too long; ignored")
            continue
        try:
            coerced = parse_value(name, value)
        except ValueError as exc:
            warnings.append(f"{exc}; ignored")
            continue
        pending[name] = coerced

    # Each value is valid alone; keep the largest set TrainConfig accepts together (in any order,
    # e.g. `optimizer=sgd` before `nesterov=true`), naming each one that no combination admits.
    accepted: dict[str, Any] = {}
    progress = True
    while pending and progress:
        progress = False
        for name, value in list(pending.items()):
            try:
                dataclasses.replace(base, **accepted, **{name: value}).validate()
            except ValueError:
                continue
            accepted[name] = pending.pop(name)
            progress = True
    for name, value in pending.items():
        try:
            dataclasses.replace(base, **accepted, **{name: value}).validate()
        except ValueError as exc:
            warnings.append(f"{name}={_short(_text(value))} conflicts with the other settings ({exc}); ignored")
    return ParsedQuery(dataclasses.replace(base, **accepted).to_dict(), warnings, preset)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


def encode_query(config: TrainConfig | Mapping[str, Any], preset: str | None = None) -> dict[str, str]:
    """The shortest query that `parse_query` turns back into `config`: the preset (if given) and
    each field that differs from it (or from the defaults), in declaration order."""
    cfg = config if isinstance(config, TrainConfig) else TrainConfig.from_dict(dict(config))
    base = get_preset(preset).config() if preset else TrainConfig()
    query = {PRESET_KEY: preset} if preset else {}
    for f in fields():
        value = getattr(cfg, f.name)
        if value != getattr(base, f.name):
            query[f.name] = _text(value)
    return query


def query_string(config: TrainConfig | Mapping[str, Any], preset: str | None = None) -> str:
    """`encode_query` as the text after '?' (empty for the plain defaults)."""
    return urlencode(encode_query(config, preset))


def closest_preset(config: TrainConfig | Mapping[str, Any]) -> str:
    """The preset from which `config` differs in the fewest fields (ties: the earlier preset)."""
    return min(PRESETS, key=lambda name: len(encode_query(config, name)))
