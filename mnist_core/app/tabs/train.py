"""Train tab: fill the form (preset, shared URL, earlier run), estimate, start, stop and follow a
background run (API events `train`, `stop`, `status`)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import gradio as gr

from ...config import TrainConfig, applicable
from ...presets import DEFAULT_PRESET, PRESETS, get_preset
from ...query import PRESET_KEY, closest_preset, encode_query, parse_query, query_string
from ..caps import Caps
from ..context import AppContext, user_error
from ..job_state import JobState, Line, api_status
from ..jobs import JobError
from ..latest import LatestAnswers
from ..progress_bar import progress_html
from ..registry import DEFAULT_NAME, UnknownRunError
from ..visitors import session_visitor, visitor_id
from ..widgets import CONTROLLERS, DEPENDENTS, NAMES, TrainForm, scaled_fields, to_scale

# Positions in TrainForm.fill_outputs: the preset, the fields, the scale sliders, the URL note, the preset
# note, the estimate, the query, the dependent fields' containers.
FIELDS_AT = slice(1, 1 + len(NAMES))
ESTIMATE_AT = 1 + len(NAMES) + len(scaled_fields()) + 2
FILL_SIZE = ESTIMATE_AT + 2 + len(DEPENDENTS)


def training_query(query: Mapping[str, Any]) -> dict[str, Any]:
    """The URL parameters meant for the Train form: all but Gradio's own (`__theme`, `view=api`)."""
    return {k: v for k, v in query.items() if not str(k).startswith("__") and k != "view"}


def limits_markdown(caps: Caps) -> str:
    """The Train tab's table of this server's limits (Caps.table), the ones that apply."""
    if caps.training_disabled:
        return "Training is disabled on this server."
    where = "this shared Space" if caps.space else "this server"
    rows = [f"| {what} | {value} |" for what, _variable, value in caps.table() if value != "none"]
    return "\n".join([f"**Limits on {where}**", "", "| limit | here |", "| --- | --- |", *rows])


@dataclass(frozen=True)
class TrainView:
    """The Train tab's components, by name (TrainTab.build)."""

    form: TrainForm  # the preset, every field's widget, the notes, the estimate, the form token
    start: gr.Button
    stop: gr.Button
    progress: gr.HTML
    status: gr.Markdown
    started: gr.events.Dependency  # Start's event (API `train`): the page chains the run's first curve point to it


class TrainTab:
    """Handlers of the Train tab."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.latest = LatestAnswers()  # per page, the newest form request: older answers are dropped

    def build(self, who: gr.State | None = None) -> TrainView:
        """The tab's components and events, inside app.py's `with gr.Tab("Train")`: the form (TrainForm,
        wired to this tab's handlers), Start, Stop, the progress bar and the API events `train`, `stop`
        and `status`, each for the visitor in `who` (visitors.session_visitor). The page's tick keeps the
        progress, status and Stop current for that visitor (app.py)."""
        who = who if who is not None else session_visitor()
        if self.ctx.jobs.estimator is None:
            self.ctx.jobs.estimator = self.train_seconds  # the line's expected waits: this tab's estimate
        caps, state = self.ctx.jobs.caps, self.ctx.jobs.snapshot()
        gr.Markdown(
            "Pick a preset, change what you like, start. One run trains at a time; a Start while another runs waits in line."
        )
        if caps.limited():  # a Space, or caps set: say which (locally the intro stays one line)
            gr.Markdown(limits_markdown(caps), elem_id="train-limits")
        form = TrainForm(caps)
        form.build_top()
        with gr.Row():
            start_button = dict(variant="primary", interactive=not caps.training_disabled, elem_id="start")
            start = gr.Button("Start training", **start_button)
            stop = gr.Button("Stop", variant="stop", interactive=False, elem_id="stop")  # the tick: yours to stop
        progress = gr.HTML(progress_html(state), elem_id="progress")
        status = gr.Markdown(state.message, show_label=False, elem_id="train-status")
        form.build_more()
        form.wire(self)  # preset -> every widget; changes -> visibility, note, estimate, address bar
        # preprocess=False: raw values (page or API) go straight to TrainConfig.from_dict,
        # whose messages name the field and its allowed range.
        started = start.click(
            self.start_training, [who], status, inputs_kwargs=form.widgets, api_name="train", preprocess=False
        )
        stop.click(self.stop_training, who, status, api_name="stop")
        status_api, status_button = gr.JSON(visible=False, label="status"), gr.Button(visible=False)
        status_button.click(self.training_status, who, status_api, api_name="status")
        return TrainView(form=form, start=start, stop=stop, progress=progress, status=status, started=started)

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
            yield untouched(answer)  # stale or not: a run that yields nothing blanks its outputs (see untouched)
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
        due), each only while `token` is still its page's newest request; then nothing (see `untouched`),
        which is also the whole answer of a request that is stale from the start."""
        if self.latest.current(token):
            yield outputs
            probed = self._probe(cfg)
            if probed != gr.skip() and self.latest.current(token):
                follow = untouched(outputs)
                follow[estimate_at] = probed
                yield follow
        yield untouched(outputs)

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

    def train_seconds(self, cfg: TrainConfig) -> float | None:
        """About how long `cfg` trains here (no probe: from earlier runs or a cached probe), for the line's waits."""
        from ...estimate import estimate

        return estimate(cfg, self._runs(), probe=False).seconds

    def _estimate(self, cfg: TrainConfig, probe: bool) -> str:
        from ...estimate import estimate  # torch: loaded behind the first page

        guess = estimate(cfg, self._runs(), probe=probe)
        waiting = " (no probe while a run is training)" if guess.seconds is None and self.ctx.jobs.busy() else ""
        return f"**Estimate:** {guess.text()}{waiting}"

    def start_training(
        self, visitor: str | None = None, request: gr.Request | None = None, **hyperparameters: Any
    ) -> str:
        """Validate the hyperparameters and start a background run, or put it in line behind the running job
        (API `train`); refused if the caller already has a job running or queued, or the line is full."""
        owner = visitor_id(visitor, request)
        try:
            cfg = TrainConfig.from_dict({k: v for k, v in hyperparameters.items() if v is not None})
            state = self.ctx.jobs.start(cfg, owner)
        except (ValueError, JobError) as exc:
            raise user_error(exc) from None
        if state.status == "queued":
            return f"Queued run **{state.name}**: {state.message}"
        return f"Started run **{state.name}**: {state.message}"

    def stop_training(self, visitor: str | None = None, request: gr.Request | None = None) -> str:
        """Stop the caller's running job (the last completed epoch is kept) or take their queued one out of the
        line (API `stop`); another visitor's job goes on, and the answer says so."""
        owner = visitor_id(visitor, request)
        state = self.ctx.jobs.stop(owner)
        return state.message

    def training_status(self, visitor: str | None = None, request: gr.Request | None = None) -> dict:
        """The caller's job: status (idle, queued, running, done, stopped, failed), place in line, progress
        and metrics, and what the server is doing (API `status`)."""
        owner = visitor_id(visitor, request)
        s, line = self.ctx.jobs.look(owner)
        return status_answer(s, line, owner)


def untouched(outputs: list) -> list:
    """An answer that changes none of `outputs`: the last one each of these generators yields, on every path.
    Gradio ends a generator's run by sending its last answer again; were that the form's values, a run that
    ended after a newer fill (a link's first estimate probing while the visitor picked a preset) would put
    the old values back: the form showed one recipe and its handlers then read another. And a run that
    yields nothing at all ends with None for every output, which blanks the form: a stale request (a
    Gradio dropdown sends `input` twice per pick, on the pick and on the blur that follows, so the first of
    a preset's two requests is stale as soon as the second begins) whose empty run ended after the newer
    fill left every field empty (CI: the model box stayed '' after picking the classic MLP)."""
    return [gr.skip()] * len(outputs)


def status_answer(s: JobState, line: Line, owner: str) -> dict:
    """The API's `status` for `owner`: their job (`s`, from JobManager.look) and the server's `line`."""
    current = line.current
    running = None
    if current.active:
        running = {
            "kind": current.kind,
            "run": current.name,
            "yours": current.owner == owner,
            "epoch": current.epoch,
            "epochs": current.epochs,
            "progress": round(current.progress, 4),
            "remaining_seconds": None if line.remaining is None else round(line.remaining, 1),
        }
    return {
        "status": api_status(s),
        "stage": s.status,  # starting, running or stopping while "running"
        "position": s.position if s.status == "queued" else None,
        "wait_seconds": None if s.status != "queued" or s.wait_seconds is None else round(s.wait_seconds, 1),
        "message": s.message,
        "progress": round(s.progress, 4),
        "epoch": s.epoch,
        "epochs": s.epochs,
        "kind": s.kind,
        "run": s.name,
        "metrics": s.metrics,
        "error": s.error,
        "server": {"running": running, "queued": len(line.waiting)},
    }
