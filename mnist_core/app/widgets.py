"""The Train tab's form: a preset picker and one widget per TrainConfig field, built from its metadata.

The basic fields (model, optimizer, epochs, lr, batch size) come first in one row; the rest sit in
one accordion per group. lr moves on a log10 slider and batch size on a log2 slider (powers of two),
each driving a Number that holds the value the API takes.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import gradio as gr

from ..config import applicable, basic_fields, describe_range, field_groups, field_type, fields, parse_value
from ..presets import DEFAULT_PRESET, PRESETS
from .events import PRIVATE
from .jobs import Caps
from .latest import TOKEN_JS

# Runs in the browser after each form change: puts the form's query (from mnist_core.query) into the
# address bar so it can be copied, keeping Gradio's own `__` parameters (e.g. __theme).
REPLACE_URL_JS = """(query) => {
  const params = new URLSearchParams(location.search);
  for (const key of [...params.keys()]) if (!key.startsWith('__')) params.delete(key);
  for (const [key, value] of new URLSearchParams(query || '')) params.set(key, value);
  const search = params.toString();
  history.replaceState(history.state, '', location.pathname + (search ? '?' + search : '') + location.hash);
}"""


def slider_step(default: float, lo: float, hi: float) -> float:
    """A round step giving ~100+ positions on the range, fine enough to hit the default exactly."""
    step = 10.0 ** math.floor(math.log10((hi - lo) / 100)) if hi > lo else 1.0
    while step > 1e-6 and abs(round(default / step) * step - default) > step * 1e-6:
        step /= 10
    return step


def scale_of(f: dataclasses.Field) -> str | None:
    """'log10' (lr), 'log2' (batch size: powers of two) or None: how a field's slider runs."""
    if f.metadata.get("log"):
        return "log10"
    return "log2" if f.metadata.get("scale") == "pow2" else None


def scaled_fields() -> list[str]:
    """The fields that have a scale slider beside their Number, in declaration order."""
    return [f.name for f in fields() if scale_of(f)]


def to_scale(name: str, value: float | None) -> float:
    """The slider position of a field's value; no change for an empty one or one outside the field's range."""
    m = _FIELDS[name].metadata
    if value is None or not m["min"] <= value <= m["max"]:
        return gr.skip()
    if scale_of(_FIELDS[name]) == "log2":
        return round(math.log2(value))
    return round(math.log10(value), 2)


def from_log10(exponent: float) -> float:
    """The value a log10 slider position stands for, to 3 significant digits."""
    return float(f"{10**exponent:.3g}")


def from_log2(exponent: float) -> int:
    """The power of two a log2 slider position stands for."""
    return 2 ** round(exponent)


def to_log10(value: float | None) -> float:
    """The log10 slider position of a typed value; no change for an empty or non-positive one."""
    return to_scale("lr", value)


def field_info(name: str) -> str:
    """A Number's line under its label: what the field is and its range (TrainConfig's metadata)."""
    f = _FIELDS[name]
    return f"{f.metadata['help']}; allowed: {describe_range(f)}"


def typed(name: str, value: float | None) -> list:
    """After a value is typed in a scaled field's Number: the slider moves to it, and the line under the
    field says what is wrong with it (e.g. outside its range), or again what the field is once it is fine."""
    try:
        parse_value(name, value)
    except ValueError as exc:
        return [gr.skip(), gr.update(info=f"⚠️ {exc}")]
    return [to_scale(name, value), gr.update(info=field_info(name))]


class RangeNumber(gr.Number):
    """A Number whose range is shown (and kept by its arrows) in the browser, but a typed value outside it
    still reaches the handlers, which name the range (TrainConfig validates): gr.Number would refuse it
    before any handler runs, with an error badge on its outputs and a traceback in the server's log."""

    is_template = True  # drawn by the browser as a plain Number

    def preprocess(self, payload: float | None) -> float | int | None:
        """The typed value, rounded to the precision; not range-checked here."""
        return None if payload is None else self.round_to_precision(payload, self.precision)


_FIELDS = {f.name: f for f in fields()}
NAMES = [f.name for f in fields()]  # the form's field order (and the order of the handlers' *values)
# Visibility comes from the `applies` metadata: the fields that depend on others, and those others.
DEPENDENTS = [f.name for f in fields() if f.metadata.get("applies")]
CONTROLLERS = [n for n in NAMES if any(n in f.metadata.get("applies", {}) for f in fields())]
GROUP_TITLES = {
    "model": "Model: layers, activation, dropout",
    "optimizer": "Optimizer: momentum, betas, weight decay",
    "schedule": "Learning-rate schedule",
    "augmentation": "Augmentation: rotation, shift, zoom",
    "data & seed": "Data, seed and device",
}


@dataclass
class TrainForm:
    """The form's components; build the top (`build_top`), then the rest (`build_more`)."""

    caps: Caps
    widgets: dict[str, gr.Component] = field(default_factory=dict)  # field -> widget (elem_id hp-<field>)
    scales: dict[str, gr.Slider] = field(default_factory=dict)  # field -> its log10/log2 slider
    containers: dict[str, gr.Component | gr.Column] = field(default_factory=dict)  # what (un)hides a field
    slid: dict[str, Any] = field(default_factory=dict)  # field -> the event of its scale slider moved by hand

    def build_top(self) -> None:
        """The preset picker with its note, the basic fields in one row, and the estimate line."""
        with gr.Row(equal_height=False):
            self.preset = gr.Dropdown(
                [(p.title, p.name) for p in PRESETS.values()],
                value=DEFAULT_PRESET,
                label="Preset",
                scale=1,
                min_width=260,
                elem_id="preset",
            )
            with gr.Column(scale=2, min_width=260):
                self.preset_note = gr.Markdown(PRESETS[DEFAULT_PRESET].description, elem_id="preset-note")
                self.url_note = gr.Markdown(visible=False, elem_id="url-note")
        with gr.Row(equal_height=False):
            for name in basic_fields():
                self._add(_FIELDS[name], min_width=180)
        self.estimate = gr.Markdown(elem_id="estimate")
        # The query of the current form, for the address bar (rendered hidden, so its value is on the page).
        self.query = gr.Textbox(visible="hidden", elem_id="train-query", label="query")
        # Filled in the browser for each form request (latest.TOKEN_JS), so that stale answers are dropped.
        self.token = gr.Textbox(visible=False, label="form token")

    def build_more(self) -> None:
        """One closed accordion per group with the remaining fields, three to a row."""
        basic = set(basic_fields())
        for group, names in field_groups().items():
            rest = [_FIELDS[n] for n in names if n not in basic]
            if not rest:
                continue
            with gr.Accordion(GROUP_TITLES[group], open=False, elem_id=f"group-{group.split()[0]}"):
                for start in range(0, len(rest), 3):
                    with gr.Row(equal_height=False):
                        for f in rest[start : start + 3]:
                            self._add(f, min_width=220)
        self.widgets = {f.name: self.widgets[f.name] for f in fields()}  # declaration order, as the API lists them

    @property
    def fill_outputs(self) -> list[gr.Component]:
        """What a preset, a URL or a run fills (TrainTab.fill): the preset, every field, the scale sliders,
        the URL note, then what follows from the filled values: the preset note, the estimate, the query
        for the address bar and each dependent field's visibility."""
        dependents = [self.containers[n] for n in DEPENDENTS]
        scales = [self.scales[n] for n in scaled_fields()]
        derived = [self.preset_note, self.estimate, self.query, *dependents]
        return [self.preset, *self.widgets.values(), *scales, self.url_note, *derived]

    def wire(self, tab: Any) -> None:
        """Wire the form to the Train tab's handlers (`tab`: a tabs.train.TrainTab). A chosen preset fills
        every widget together with the note, estimate, address bar and visibility that follow from it
        (TrainTab.apply_preset), as a link and a loaded run do. Only what the visitor changes asks again
        (`.input`, never `.change`): a fill applied one widget at a time would otherwise send a request
        about each half-filled form, and the answer about one of them could land last. A change of a
        controlling field shows or hides the fields that depend on it; any change updates the preset note,
        the instant estimate and the address bar, then probes the speed when no earlier run gives it
        (TrainTab.form_changed), each request numbered in the browser."""
        quiet = dict(**PRIVATE, show_progress="hidden")
        many = dict(concurrency_limit=None, concurrency_id="train-form")  # these handlers only read
        self.preset.input(tab.apply_preset, [self.token, self.preset], self.fill_outputs, js=TOKEN_JS, **many, **quiet)
        controllers = [self.widgets[n] for n in CONTROLLERS]
        dependents = [self.containers[n] for n in DEPENDENTS]
        gr.on([w.input for w in controllers], tab.visibility, controllers, dependents, **quiet)
        inputs = self.inputs
        outputs = [self.preset_note, self.estimate, self.query]
        triggers = [w.input for w in self.widgets.values()]
        changed = dict(fn=tab.form_changed, inputs=[self.token, *inputs], outputs=outputs, js=TOKEN_JS)
        gr.on(triggers, **changed, trigger_mode="always_last", **many, **quiet)
        for moved in self.slid.values():  # a dragged scale slider sets its Number from the server: then ask
            moved.then(**changed, **many, **quiet)
        self.query.change(None, self.query, js=REPLACE_URL_JS)

    @property
    def inputs(self) -> list[gr.Component]:
        """What the form's handlers read: the preset, then every field in declaration order."""
        return [self.preset, *self.widgets.values()]

    def _add(self, f: dataclasses.Field, min_width: int) -> None:
        visible = applicable({}, f.name)  # under the defaults; the app updates it as the choices change
        if scale_of(f):
            with gr.Column(min_width=min_width, visible=visible) as column:
                number, slider = self.widgets[f.name], self.scales[f.name] = scaled_number(f, self.caps)
            self.containers[f.name] = column
            convert = from_log2 if scale_of(f) == "log2" else from_log10
            self.slid[f.name] = slider.input(convert, slider, number, queue=False, **PRIVATE)
            number.input(partial(typed, f.name), number, [slider, number], queue=False, **PRIVATE)
        else:
            self.widgets[f.name] = self.containers[f.name] = field_widget(f, self.caps, min_width, visible)


def hyperparameter_widgets(caps: Caps) -> dict[str, gr.Component]:
    """One widget per TrainConfig field (the whole form, without its preset); each has elem_id `hp-<field>`."""
    form = TrainForm(caps)
    form.build_top()
    form.build_more()
    return form.widgets


def field_widget(f: dataclasses.Field, caps: Caps, min_width: int = 200, visible: bool = True) -> gr.Component:
    """The widget of one field: checkbox, dropdown, textbox, number or slider."""
    m, kind, label = f.metadata, field_type(f), f.name.replace("_", " ")
    info = f"{m['help']}; allowed: {describe_range(f)}"
    common = dict(min_width=min_width, elem_id=f"hp-{f.name}", visible=visible)
    if kind is bool:
        return gr.Checkbox(value=f.default, label=label, info=m["help"], **common)
    if "choices" in m:
        return gr.Dropdown(list(m["choices"]), value=f.default, label=label, info=m["help"], **common)
    if m.get("kind") == "int_list":
        return gr.Textbox(value=f.default, label=label, info=info, **common)
    lo, hi = m["min"], m["max"]
    if f.name == "epochs" and caps.max_epochs is not None:
        hi = min(hi, caps.max_epochs)
    if kind is int and hi - lo > 100_000:  # e.g. a seed: a slider would be useless
        return RangeNumber(value=f.default, minimum=lo, maximum=hi, precision=0, label=label, info=info, **common)
    if hi <= lo:  # MNIST_MAX_EPOCHS=1: Gradio refuses a slider from 1 to 1, and the app would not start
        return gr.Number(
            value=lo, minimum=lo, maximum=lo, precision=0, interactive=False, label=label, info=info, **common
        )
    step = slider_step(f.default, lo, hi)
    if kind is int:  # e.g. train_size moves in steps of 100
        step = max(1, int(step)) if step >= 1 and (f.default - lo) % int(step) == 0 else 1
        return gr.Slider(lo, hi, value=f.default, step=step, precision=0, label=label, info=m["help"], **common)
    return gr.Slider(lo, hi, value=f.default, step=step, label=label, info=m["help"], **common)


def scaled_number(f: dataclasses.Field, caps: Caps) -> tuple[gr.Number, gr.Slider]:
    """A Number holding the value (what the API takes, any allowed value), driven by a slider over its
    log10 (lr) or log2 (batch size: each stop a power of two). TrainForm wires them both ways."""
    m, label = f.metadata, f.name.replace("_", " ")
    log2 = scale_of(f) == "log2"
    number = RangeNumber(
        value=f.default,
        minimum=m["min"],
        maximum=m["max"],
        precision=0 if log2 else None,
        label=label,
        info=field_info(f.name),
        elem_id=f"hp-{f.name}",
    )
    if log2:
        lo, hi, step = round(math.log2(m["min"])), math.floor(math.log2(m["max"])), 1
        slider_label = f"log2({f.name}): powers of two"
    else:
        lo, hi, step = math.log10(m["min"]), math.log10(m["max"]), 0.01
        slider_label = f"log10({f.name}): log scale"
    slider = gr.Slider(
        lo,
        hi,
        value=to_scale(f.name, f.default),
        step=step,
        precision=0 if log2 else 2,
        label=slider_label,
        elem_id=f"hp-{f.name}-{scale_of(f)}",
    )
    return number, slider
