"""The Train tab's widgets, one per TrainConfig field, built from its metadata (type, range, choices, help)."""

from __future__ import annotations

import dataclasses
import math

import gradio as gr

from ..config import describe_range, field_type, fields
from .jobs import Caps


def slider_step(default: float, lo: float, hi: float) -> float:
    """A round step giving ~100+ positions on the range, fine enough to hit the default exactly."""
    step = 10.0 ** math.floor(math.log10((hi - lo) / 100)) if hi > lo else 1.0
    while step > 1e-6 and abs(round(default / step) * step - default) > step * 1e-6:
        step /= 10
    return step


def hyperparameter_widgets(caps: Caps, per_row: int = 4) -> dict[str, gr.Component]:
    """One widget per TrainConfig field, in rows; each has the elem_id `hp-<field>`."""
    widgets: dict[str, gr.Component] = {}
    all_fields = fields()
    for start in range(0, len(all_fields), per_row):
        with gr.Row(equal_height=False):
            for f in all_fields[start : start + per_row]:
                widgets[f.name] = field_widget(f, caps)
    return widgets


def field_widget(f: dataclasses.Field, caps: Caps) -> gr.Component:
    """The widget of one field: checkbox, dropdown, textbox, (log) number or slider."""
    m, kind, label = f.metadata, field_type(f), f.name.replace("_", " ")
    info = f"{m['help']}; allowed: {describe_range(f)}"
    common = dict(min_width=200, elem_id=f"hp-{f.name}")
    if kind is bool:
        return gr.Checkbox(value=f.default, label=label, info=m["help"], **common)
    if "choices" in m:
        return gr.Dropdown(list(m["choices"]), value=f.default, label=label, info=m["help"], **common)
    if m.get("kind") == "int_list":
        return gr.Textbox(value=f.default, label=label, info=info, **common)
    if m.get("log"):
        return log_number(f, label, info)
    lo, hi = m["min"], m["max"]
    if f.name == "epochs" and caps.max_epochs is not None:
        hi = min(hi, caps.max_epochs)
    if kind is int and hi - lo > 100_000:  # e.g. a seed: a slider would be useless
        return gr.Number(value=f.default, minimum=lo, maximum=hi, precision=0, label=label, info=info, **common)
    if hi <= lo:  # MNIST_MAX_EPOCHS=1: Gradio refuses a slider from 1 to 1, and the app would not start
        return gr.Number(
            value=lo, minimum=lo, maximum=lo, precision=0, interactive=False, label=label, info=info, **common
        )
    step = slider_step(f.default, lo, hi)
    if kind is int:  # e.g. train_size moves in steps of 100; batch_size in steps of 1 (its default is 128)
        step = max(1, int(step)) if step >= 1 and (f.default - lo) % int(step) == 0 else 1
        return gr.Slider(lo, hi, value=f.default, step=step, precision=0, label=label, info=m["help"], **common)
    return gr.Slider(lo, hi, value=f.default, step=step, label=label, info=m["help"], **common)


def log_number(f: dataclasses.Field, label: str, info: str) -> gr.Number:
    """A Number holding the value (what the API takes), driven by a slider over its log10."""
    m = f.metadata
    with gr.Column(min_width=200):
        number = gr.Number(
            value=f.default, minimum=m["min"], maximum=m["max"], label=label, info=info, elem_id=f"hp-{f.name}"
        )
        slider = gr.Slider(
            math.log10(m["min"]),
            math.log10(m["max"]),
            value=round(math.log10(f.default), 2),
            step=0.01,
            precision=2,
            label=f"log10({f.name}): drag to set {label} on a log scale",
            elem_id=f"hp-{f.name}-log10",
        )
    slider.input(from_log10, slider, number, api_visibility="private", queue=False)
    number.input(to_log10, number, slider, api_visibility="private", queue=False)
    return number


def from_log10(exponent: float) -> float:
    """The value a log10 slider position stands for, to 3 significant digits."""
    return float(f"{10**exponent:.3g}")


def to_log10(value: float | None) -> float:
    """The log10 slider position of a typed value; no change for an empty or non-positive one."""
    return math.log10(value) if value and value > 0 else gr.skip()
