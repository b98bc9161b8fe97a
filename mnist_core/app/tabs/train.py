"""Train tab: fill the form (preset, shared URL, earlier run), estimate, start, stop and follow a
background run (API events `train`, `stop`, `status`)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import gradio as gr

from ...config import TrainConfig, applicable
from ...presets import DEFAULT_PRESET, PRESETS, get_preset
from ...query import PRESET_KEY, closest_preset, encode_query, parse_query, query_string
from ..context import AppContext, user_error
from ..jobs import JobError, JobState
from ..latest import LatestAnswers
from ..registry import DEFAULT_NAME, UnknownRunError
from ..widgets import CONTROLLERS, DEPENDENTS, NAMES, scaled_fields, to_scale

# Positions in TrainForm.fill_outputs: the preset, the fields, the scale sliders, the URL note, the preset
# note, the estimate, the query, the dependent fields' containers.
FIELDS_AT = slice(1, 1 + len(NAMES))
ESTIMATE_AT = 1 + len(NAMES) + len(scaled_fields()) + 2
FILL_SIZE = ESTIMATE_AT + 2 + len(DEPENDENTS)


def training_query(query: Mapping[str, Any]) -> dict[str, Any]:
    """The URL parameters meant for the Train form: all but Gradio's own (`__theme`, `view=api`)."""
    return {k: v for k, v in query.items() if not str(k).startswith("__") and k != "view"}


def progress_html(s: JobState) -> str:
    """A progress bar with the run's state."""
    color = {"failed": "#d62728", "stopped": "#ff7f0e", "done": "#2ca02c"}.get(s.status, "#1f77b4")
    pct = max(0.0, min(1.0, s.progress)) * 100
    current = min(s.epoch + 1, s.epochs) if s.active else s.epoch  # the epoch in progress, else the last one
    caption = f"{s.status} · {pct:.0f}% · epoch {current}/{s.epochs} · {s.elapsed:.0f} s" if s.run_id else "idle"
    return (
        f'<div id="train-progress" data-status="{s.status}" style="width:100%">'
        f'<div style="height:14px;border-radius:7px;background:#e5e7eb;overflow:hidden">'
        f'<div style="height:100%;width:{pct:.1f}%;background:{color}"></div></div>'
        f'<div style="font-size:0.9em;margin-top:4px">{caption}</div></div>'
    )


class TrainTab:
    """Handlers of the Train tab."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.latest = LatestAnswers()  # per page, the newest form request: older answers are dropped

    def fill(self, values: Mapping[str, Any], preset: str | None, note: str = "") -> list:
        """Outputs for TrainForm.fill_outputs: the preset, every field, the scale sliders, the URL note, and
        what follows from exactly these values (preset note, instant estimate, address bar, visibility),
        so that a fill never depends on answers about the form as the browser applies it widget by widget.
        Epochs above this server's cap are lowered to it, and the note says so."""
        values = dict(values)
        cap = self.ctx.jobs.caps.max_epochs
        if cap is not None and values["epochs"] > cap:
            note = " ".join(
                filter(None, [note, f"epochs lowered from {values['epochs']} to this server's limit of {cap}."])
            )
            values["epochs"] = cap
        positions = [to_scale(name, values[name]) for name in scaled_fields()]
        shown = gr.Markdown(note, visible=bool(note))
        summary = self._summary(TrainConfig.from_dict(values), preset)
        fields = [values[name] for name in NAMES]
        return [
            preset or gr.skip(),
            *fields,
            *positions,
            shown,
            *summary,
            *self.visibility(*map(values.get, CONTROLLERS)),
        ]

    def apply_preset(self, token: str | None, name: str) -> Iterator[list]:
        """Fill every widget from the chosen preset (the URL note, about an earlier link, goes away), then
        the probed estimate (`token`: see form_changed)."""
        self.latest.begin(token)
        try:
            preset = get_preset(name)
        except ValueError as exc:
            raise user_error(exc) from None
        outputs = self.fill(preset.config().to_dict(), preset.name)
        yield from self._answers(token, outputs, TrainConfig.from_dict(dict(zip(NAMES, outputs[FIELDS_AT]))))

    def from_query(self, query: Mapping[str, Any]) -> list:
        """Fill the form from a URL's parameters and open the Train tab, with the instant estimate.
        When the URL names no training setting the form is left alone and the Draw tab stays the
        landing tab; the estimate (of the defaults) is given either way."""
        query = training_query(query)
        if not query:
            outputs = [gr.skip()] * (FILL_SIZE + 1)
            outputs[ESTIMATE_AT] = self._estimate(TrainConfig(), probe=False)
            return outputs
        parsed = parse_query(query)
        note = ("⚠️ **Ignored from the link:** " + "; ".join(parsed.warnings) + ".") if parsed.warnings else ""
        preset = parsed.preset or closest_preset(parsed.values)
        return [*self.fill(parsed.values, preset, note), gr.Tabs(selected="train")]

    def from_url(self, token: str | None, request: gr.Request) -> Iterator[list]:
        """`demo.load`: the page's own URL (e.g. /?preset=mlp_classic&epochs=3) fills the form, with the
        note, estimate and address bar of exactly those values; then the probed estimate, unless the form
        has changed meanwhile (`token`: see form_changed)."""
        self.latest.begin(token)
        query = dict(request.query_params) if request is not None else {}
        outputs = self.from_query(query)
        filled = outputs[FIELDS_AT] if training_query(query) else TrainConfig().to_dict().values()
        yield from self._answers(token, outputs, TrainConfig.from_dict(dict(zip(NAMES, filled))))

    def load_run(self, token: str | None, name: str | None) -> Iterator[list]:
        """Runs tab's "load into Train": the run's settings fill the form, and the Train tab opens."""
        self.latest.begin(token)
        try:
            run = self.ctx.registry.info(name)
        except UnknownRunError as exc:
            raise user_error(exc) from None
        note = f"Loaded the settings of run **{run.name}**."
        filled = self.fill(run.config.to_dict(), closest_preset(run.config), note)
        cfg = TrainConfig.from_dict(dict(zip(NAMES, filled[FIELDS_AT])))  # epochs as filled (a cap lowers them)
        yield from self._answers(token, [*filled, gr.Tabs(selected="train")], cfg)

    def visibility(self, *controllers: Any) -> list:
        """Show each field that depends on others (DEPENDENTS) only when it applies to their values."""
        values = dict(zip(CONTROLLERS, controllers))
        return [gr.update(visible=applicable(values, name)) for name in DEPENDENTS]

    def form_changed(self, token: str | None, preset: str | None, *values: Any) -> Iterator[list]:
        """When the visitor changes a widget: first, at once, the preset's note (with what differs from
        it), the estimate without a probe and the query for the address bar; then, if no earlier run gave
        the speed, the probed estimate. `token` (page and request number, counted in the browser) lets
        each answer through only while no newer request of that page (a change, a preset, a loaded run)
        has come in, checked after the answer is computed, just before it goes out."""
        self.latest.begin(token)
        cfg, problem = self._config(values)
        if cfg is None:
            answer = [gr.skip(), f"**Not valid yet:** {problem}", gr.skip()]
            if self.latest.current(token):
                yield answer
            return
        yield from self._answers(token, self._summary(cfg, preset), cfg, estimate_at=1)

    def _summary(self, cfg: TrainConfig, preset: str | None) -> list:
        """The preset note (what differs from the preset), the instant estimate and the address bar's query."""
        name = preset if preset in PRESETS else DEFAULT_PRESET
        changed = [k for k in encode_query(cfg, name) if k != PRESET_KEY]
        note = PRESETS[name].description
        if changed:
            note = f"**Modified** ({', '.join(changed)}) from: {note}"
        return [note, self._estimate(cfg, probe=False), query_string(cfg, name)]

    def _answers(
        self, token: str | None, outputs: list, cfg: TrainConfig, estimate_at: int = ESTIMATE_AT
    ) -> Iterator[list]:
        """`outputs` at once, then the same with only the probed estimate of `cfg` changed (when a probe is
        due), each only while `token` is still its page's newest request."""
        if not self.latest.current(token):
            return
        yield outputs
        probed = self._probe(cfg)
        if probed != gr.skip() and self.latest.current(token):
            follow = [gr.skip()] * len(outputs)
            follow[estimate_at] = probed
            yield follow

    def probe_estimate(self, preset: str | None, *values: Any) -> str:
        """After the instant estimate (form_changed, a fill): when no earlier run gives the speed, time a few
        steps of the network (cached per network and batch size). Skipped while a run trains, so as not to slow it."""
        cfg, _ = self._config(values)
        return gr.skip() if cfg is None else self._probe(cfg)

    def _probe(self, cfg: TrainConfig) -> str:
        if self.ctx.jobs.busy():
            return gr.skip()
        from ...estimate import estimate

        if estimate(cfg, self._runs(), probe=False).source == "runs":
            return gr.skip()
        return self._estimate(cfg, probe=True)

    def _config(self, values: tuple) -> tuple[TrainConfig | None, str]:
        try:
            return TrainConfig.from_dict(dict(zip(NAMES, values))), ""
        except ValueError as exc:
            return None, str(exc)

    def _runs(self) -> list:
        """Runs trained on this server (the bundled model's speed was measured elsewhere)."""
        return [run for run in self.ctx.registry.listing().runs if run.name != DEFAULT_NAME]

    def _estimate(self, cfg: TrainConfig, probe: bool) -> str:
        from ...estimate import estimate  # torch: loaded behind the first page

        guess = estimate(cfg, self._runs(), probe=probe)
        waiting = " (no probe while a run is training)" if guess.seconds is None and self.ctx.jobs.busy() else ""
        return f"**Estimate:** {guess.text()}{waiting}"

    def start_training(self, **hyperparameters: Any) -> str:
        """Validate the hyperparameters and start a background run (API `train`); refused if one is running."""
        try:
            cfg = TrainConfig.from_dict({k: v for k, v in hyperparameters.items() if v is not None})
            state = self.ctx.jobs.start(cfg)
        except (ValueError, JobError) as exc:
            raise user_error(exc) from None
        return f"Started run **{state.name}**: {state.message}"

    def stop_training(self) -> str:
        """Ask the running job to stop (API `stop`); the last completed epoch is kept."""
        state = self.ctx.jobs.stop()
        return state.message if state.active else f"No run in progress. {state.message}"

    def training_status(self) -> dict:
        """The current run's status, progress and metrics (API `status`)."""
        s = self.ctx.jobs.snapshot()
        return {
            "status": s.status,
            "message": s.message,
            "progress": round(s.progress, 4),
            "epoch": s.epoch,
            "epochs": s.epochs,
            "run": s.name,
            "metrics": s.metrics,
            "error": s.error,
        }
