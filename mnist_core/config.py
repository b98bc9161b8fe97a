"""TrainConfig: the single source of truth for every hyperparameter, its default and bounds.

The CLI flags, the app's widgets, validation and checkpoint metadata are all derived from the
field metadata below, so a new hyperparameter is added here and nowhere else. Sweeps search a
field within `search=(lo, hi)` when its full range is too wide to search well (`search_log` samples
it on a log scale), within min..max otherwise; `search=False` marks fields a sweep never varies.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MODELS = ("cnn", "cnn_large", "cnn_deep", "cnn_ensemble", "mlp")
ACTIVATIONS = ("relu", "leaky_relu", "mish", "gelu")
OPTIMIZERS = ("adamw", "adam", "sgd", "adadelta")
SCHEDULERS = ("onecycle", "cosine", "step", "none")
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "bf16", "fp32")

# Hidden layers of the MLP: at most this many, each within these bounds. The bounds keep a
# request like "100000,100000" (10^10 weights) from exhausting memory.
MAX_HIDDEN_LAYERS = 4
HIDDEN_SIZE_RANGE = (1, 4096)
MAX_TRAIN_SIZE = 60_000  # MNIST's training images

# The groups a form shows the fields in, in this order (each field names its own in `group`).
GROUPS = ("model", "optimizer", "schedule", "augmentation", "data & seed")


def _param(default: Any, help: str, group: str, **spec: Any) -> Any:
    """A dataclass field whose metadata carries the help text, its group and the allowed values.

    Optional metadata: `applies` {other field: allowed values} (the field matters only when every
    named field has one of those values), `basic=True` (a most-used control, shown first), and
    `log=True` / `scale="pow2"` for a widget that should not run linearly over the range.
    """
    return field(default=default, metadata={"help": help, "group": group, **spec})


# When a field applies (its `applies` metadata): every named field must hold one of these values.
_SGD = {"optimizer": ("sgd",)}
_SGD_MOMENTUM = {"optimizer": ("sgd",), "scheduler": tuple(s for s in SCHEDULERS if s != "onecycle")}
_ADAM = {"optimizer": ("adam", "adamw")}
_STEP = {"scheduler": ("step",)}


@dataclass(frozen=True)
class TrainConfig:
    """Every hyperparameter of a training run. Construct freely; call `validate()` to check."""

    model: str = _param("cnn", "network architecture", "model", choices=MODELS, basic=True)
    hidden_sizes: str = _param(
        "256,128",
        "MLP hidden layer sizes, comma separated (mlp only)",
        "model",
        applies={"model": ("mlp",)},
        kind="int_list",
        search=False,
        min=HIDDEN_SIZE_RANGE[0],
        max=HIDDEN_SIZE_RANGE[1],
        max_len=MAX_HIDDEN_LAYERS,
    )
    activation: str = _param("relu", "activation function", "model", choices=ACTIVATIONS)
    batch_norm: bool = _param(True, "BatchNorm after each hidden layer", "model")
    dropout: float = _param(0.0, "dropout probability before each hidden layer's output", "model", min=0.0, max=0.8)
    optimizer: str = _param("adamw", "how each step updates the weights", "optimizer", choices=OPTIMIZERS, basic=True)
    lr: float = _param(
        0.04, "peak learning rate", "optimizer", min=1e-5, max=10.0, log=True, basic=True, search=(1e-4, 0.3)
    )
    momentum: float = _param(
        0.9,
        "SGD momentum (sgd only; the one-cycle schedule cycles it from 0.95 to 0.85 itself)",
        "optimizer",
        min=0.0,
        max=0.999,
        applies=_SGD_MOMENTUM,
    )
    nesterov: bool = _param(False, "Nesterov momentum (sgd only)", "optimizer", applies=_SGD)
    beta1: float = _param(
        0.7,
        "Adam/AdamW decay of the gradient average (adam, adamw only)",
        "optimizer",
        min=0.0,
        max=0.999,
        applies=_ADAM,
    )
    beta2: float = _param(
        0.9,
        "Adam/AdamW decay of the squared-gradient average (adam, adamw only)",
        "optimizer",
        min=0.0,
        max=0.9999,
        applies=_ADAM,
    )
    weight_decay: float = _param(
        1e-4,
        "weight decay (L2 penalty; decoupled for adamw)",
        "optimizer",
        min=0.0,
        max=0.1,
        search=(1e-6, 0.1),
        search_log=True,
    )
    scheduler: str = _param("onecycle", "learning-rate schedule", "schedule", choices=SCHEDULERS)
    step_size: int = _param(
        1, "epochs between decays (step schedule)", "schedule", min=1, max=100, applies=_STEP, search=(1, 10)
    )
    gamma: float = _param(0.7, "decay factor (step schedule)", "schedule", min=0.01, max=1.0, applies=_STEP)
    label_smoothing: float = _param(0.1, "label smoothing of the cross-entropy loss", "optimizer", min=0.0, max=0.3)
    epochs: int = _param(1, "passes over the training set", "schedule", min=1, max=100, basic=True, search=(1, 10))
    batch_size: int = _param(
        256,
        "samples per optimisation step",
        "optimizer",
        min=1,
        max=8192,
        scale="pow2",
        basic=True,
        search=(16, 512),
        search_log=True,
    )
    rotation: float = _param(0.0, "random rotation range in degrees (augmentation)", "augmentation", min=0.0, max=45.0)
    shift: float = _param(
        0.0, "random shift as a fraction of the image size (augmentation)", "augmentation", min=0.0, max=0.3
    )
    scale: float = _param(
        0.0, "random zoom range, e.g. 0.1 = 90%..110% (augmentation)", "augmentation", min=0.0, max=0.3
    )
    thicken: float = _param(
        0.0,
        "share of digits drawn with strokes a pixel wider each side (augmentation), as a wide pen draws a small digit",
        "augmentation",
        min=0.0,
        max=1.0,
    )
    not_digits: float = _param(
        0.25,
        "non-digits (letters, shapes, scribbles) added per digit in each batch, learned as an 11th answer"
        " 'not a digit' so the model can refuse them (0: the model never refuses)",
        "data & seed",
        min=0.0,
        max=1.0,
        search=False,
    )
    val_size: int = _param(
        5000,
        "images held out of the training set for per-epoch validation",
        "data & seed",
        min=0,
        max=20_000,
        search=False,
    )
    train_size: int = _param(
        0,
        "use only this many training images (0 = all); for quick demos",
        "data & seed",
        min=0,
        max=MAX_TRAIN_SIZE,
        search=False,
    )
    seed: int = _param(
        0, "random seed (same seed, same device -> same result)", "data & seed", min=0, max=2**31 - 1, search=False
    )
    device: str = _param(
        "auto", "compute device (auto: CUDA, else MPS, else CPU)", "data & seed", choices=DEVICES, search=False
    )
    precision: str = _param(
        "auto",
        "training arithmetic: bf16 autocast or fp32 (auto: bf16 where the CPU or GPU computes it natively)",
        "data & seed",
        choices=PRECISIONS,
        search=False,
    )

    def validate(self) -> TrainConfig:
        """Raise ValueError naming the first bad field and its allowed values; return self."""
        for f in dataclasses.fields(self):
            _check_field(f, getattr(self, f.name))
        if self.nesterov and not (self.optimizer == "sgd" and self.momentum > 0):
            raise ValueError("nesterov: needs optimizer 'sgd' with momentum > 0")
        images = self.train_images
        if self.batch_size > images:
            raise ValueError(f"batch_size: {self.batch_size} is larger than the training set ({images} images)")
        return self

    @property
    def train_images(self) -> int:
        """Images trained on per epoch: the subset asked for, at most what MNIST leaves after validation."""
        return min(self.train_size or MAX_TRAIN_SIZE, MAX_TRAIN_SIZE - self.val_size)

    @property
    def hidden(self) -> tuple[int, ...]:
        """hidden_sizes parsed to integers (validate() first for a friendly error)."""
        return parse_int_list(self.hidden_sizes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Build and validate a config from loose values (CLI, app, API, checkpoint)."""
        names = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(names))
        if unknown:
            raise ValueError(f"unknown hyperparameter(s): {', '.join(unknown)}")
        return cls(**{k: coerce(names[k], v) for k, v in values.items()}).validate()

    def replace(self, **changes: Any) -> TrainConfig:
        return TrainConfig.from_dict({**self.to_dict(), **changes})


def fields() -> tuple[dataclasses.Field, ...]:
    """The hyperparameter fields, in declaration order (for CLI and UI builders)."""
    return dataclasses.fields(TrainConfig)


_FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}


def applicable(values: TrainConfig | Mapping[str, Any], name: str) -> bool:
    """Whether field `name` matters under these values (a TrainConfig or a partial dict; missing
    fields count as their defaults), from its `applies` metadata: e.g. momentum only with SGD."""
    get = values.get if isinstance(values, Mapping) else lambda key, default: getattr(values, key)
    field_ = _FIELDS.get(name)
    if field_ is None:
        raise ValueError(f"unknown hyperparameter: {name}")
    return all(
        get(other, _FIELDS[other].default) in allowed for other, allowed in field_.metadata.get("applies", {}).items()
    )


def parse_value(name: str, value: Any) -> Any:
    """One field's value from loose input (a URL, a form), coerced and range-checked alone;
    ValueError naming the field. Rules between fields are TrainConfig.validate()'s."""
    field_ = _FIELDS.get(name)
    if field_ is None:
        raise ValueError(f"unknown hyperparameter: {name}")
    value = coerce(field_, value)
    _check_field(field_, value)
    return value


def relevant_fields(values: TrainConfig | Mapping[str, Any]) -> list[str]:
    """The names of the fields that matter under these values, in declaration order."""
    return [f.name for f in fields() if applicable(values, f.name)]


def field_groups() -> dict[str, list[str]]:
    """{group: field names}, groups in GROUPS order, fields in declaration order."""
    return {group: [f.name for f in fields() if f.metadata["group"] == group] for group in GROUPS}


def basic_fields() -> list[str]:
    """The most-used fields (model, epochs, learning rate, batch size, optimizer): shown first."""
    return [f.name for f in fields() if f.metadata.get("basic")]


def pow2_values(f: dataclasses.Field) -> list[int]:
    """The powers of two within an integer field's bounds (the stops of a `scale="pow2"` widget)."""
    low, high = f.metadata["min"], f.metadata["max"]
    return [2**k for k in range(high.bit_length()) if low <= 2**k <= high]


def field_type(f: dataclasses.Field) -> type:
    """The Python type of a field (the annotations are strings under `from __future__`)."""
    return {"str": str, "int": int, "float": float, "bool": bool}[str(f.type)]


def describe_range(f: dataclasses.Field) -> str:
    """Human text for the allowed values of a field, used in errors and --help."""
    m = f.metadata
    if "choices" in m:
        return "one of " + ", ".join(m["choices"])
    if m.get("kind") == "int_list":
        return f"1 to {m['max_len']} integers in [{m['min']}, {m['max']}], comma separated"
    if "min" in m:
        return f"[{m['min']}, {m['max']}]"
    return "true or false"


def parse_int_list(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in str(text).replace(" ", "").split(",") if part != "")


def whole_number(value: Any) -> int:
    """A loose value (3, 3.0, "3") as an int; ValueError (or TypeError) for anything else, bools too."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a whole number")
    number = float(value)
    if not math.isfinite(number) or number != int(number):
        raise ValueError(f"{value!r} is not a whole number")
    return int(number)


def coerce(f: dataclasses.Field, value: Any) -> Any:
    """Convert a loose value (string from a CLI/API, float from a slider) to the field's type."""
    kind = field_type(f)
    name = f.name
    try:
        if kind is bool:
            if isinstance(value, str):
                low = value.strip().lower()
                if low in ("1", "true", "yes", "on"):
                    return True
                if low in ("0", "false", "no", "off"):
                    return False
                raise ValueError
            if isinstance(value, (bool, int)) and value in (0, 1):
                return bool(value)
            raise ValueError
        if kind is int:
            return whole_number(value)
        if kind is float:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if f.metadata.get("kind") == "int_list" and isinstance(value, (list, tuple)):
            return ",".join(str(int(v)) for v in value)
        return str(value).strip()
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{name}: {value!r} is not a valid {kind.__name__}; expected {describe_range(f)}") from None


def _check_field(f: dataclasses.Field, value: Any) -> None:
    m = f.metadata
    name = f.name
    expected = describe_range(f)
    kind = field_type(f)
    if kind is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{name}: {value!r} is not {expected}")
        return
    if "choices" in m:
        if value not in m["choices"]:
            raise ValueError(f"{name}: {value!r} is not {expected}")
        return
    if m.get("kind") == "int_list":
        try:
            sizes = parse_int_list(value)
        except (TypeError, ValueError):
            raise ValueError(f"{name}: {value!r} is not {expected}") from None
        if not 1 <= len(sizes) <= m["max_len"] or any(not m["min"] <= s <= m["max"] for s in sizes):
            raise ValueError(f"{name}: {value!r} is not {expected}")
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name}: {value!r} is not a number in {expected}")
    if kind is int and not isinstance(value, int):
        raise ValueError(f"{name}: {value!r} is not an integer in {expected}")
    if not math.isfinite(value):
        raise ValueError(f"{name}: {value!r} is not a finite number; allowed {expected}")
    if not m["min"] <= value <= m["max"]:
        raise ValueError(f"{name}: {value!r} is outside the allowed range {expected}")
