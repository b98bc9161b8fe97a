"""Sweep tab: start, stop and follow an Optuna sweep, the server's one job (API events `sweep`, `sweep_status`).

The sweep trains in the training child (JobManager.start_sweep); this tab reads its progress from the
job state and the study itself (Optuna's figures and the trials table) from the study's database,
redrawing the figures only when a trial has ended.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from ...config import whole_number
from ...search_space import DEFAULT_VARY, SearchSpaceError, searchable_names
from ...sweep import SweepError, SweepSpec, open_study
from .. import sweep_charts
from ..context import AppContext, user_error
from ..events import PRIVATE
from ..job_state import stop_refusal
from ..jobs import JobError, JobState
from ..progress_bar import progress_html
from ..visitors import session_visitor, visitor_id
from .runs import chosen

DEFAULT_FIXED = "model=cnn,epochs=1,train_size=10000"
FIGURES = ("history", "parallel", "importance")


def new_study_name() -> str:
    """A fresh study name from the clock, for a sweep started without one."""
    return time.strftime("sweep-%Y%m%d-%H%M%S")


def sweep_progress_html(s: JobState) -> str:
    """The Train tab's bar, captioned with the sweep's trial counts."""
    if s.kind != "sweep":
        return '<div id="sweep-progress" data-status="idle">No sweep yet on this server.</div>'
    sw = s.sweep
    bar = progress_html(s).replace('id="train-progress"', 'id="sweep-progress"', 1)
    counts = f"trial {sw.index} of {sw.trials} · {sw.complete} complete · {sw.pruned} pruned · {sw.failed} failed"
    return bar.replace(
        '<div style="font-size:0.9em;margin-top:4px">', f'<div style="font-size:0.9em;margin-top:4px">{counts} · ', 1
    )


@dataclass(frozen=True)
class SweepView:
    """The Sweep tab's components, by name (SweepTab.build)."""

    vary: gr.CheckboxGroup
    fixed: gr.Textbox
    trials: gr.Number
    study: gr.Textbox
    start: gr.Button
    stop: gr.Button
    best: gr.Button
    best_note: gr.Markdown
    progress: gr.HTML
    status: gr.Markdown
    plots: list[gr.Plot]  # history, parallel coordinates, importances (FIGURES)
    table: gr.Dataframe
    note: gr.Markdown


class SweepTab:
    """Handlers of the Sweep tab."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def build(self, model: gr.Dropdown, who: gr.State | None = None) -> SweepView:
        """The tab's components, handlers and 1 s poll, inside app.py's `with gr.Tab("Sweep")`; `model`
        is the page's model picker, `who` the visitor (visitors.session_visitor) whose sweep Start and Stop are."""
        who = who if who is not None else session_visitor()
        caps = self.ctx.jobs.caps
        gr.Markdown(
            "Let Optuna search the hyperparameters: TPE sampling, poor trials pruned early on validation "
            "accuracy. A sweep is this server's one job, like a training run; every completed trial is "
            f"saved as a run (`<study>-trial<N>`). {caps.describe()}"
        )
        with gr.Row():
            vary = gr.CheckboxGroup(
                list(searchable_names()),
                value=list(DEFAULT_VARY),
                label="Fields to vary",
                elem_id="sweep-vary",
                scale=2,
            )
            with gr.Column(scale=1):
                fixed = gr.Textbox(
                    DEFAULT_FIXED, label="Fixed fields (field=value, comma-separated)", elem_id="sweep-fixed"
                )
                limit = caps.max_sweep_trials
                trials = gr.Number(
                    min(10, limit or 10), precision=0, minimum=1, maximum=limit, label="Trials", elem_id="sweep-trials"
                )
                study = gr.Textbox("", label="Study name (empty: a new study)", elem_id="sweep-study")
        with gr.Row():
            start = gr.Button(
                "Start sweep", variant="primary", interactive=not caps.training_disabled, elem_id="sweep-start"
            )
            stop = gr.Button("Stop sweep", variant="stop", interactive=False, elem_id="sweep-stop")  # yours only
            best = gr.Button("Make best active", elem_id="sweep-best")
            best_note = gr.Markdown(elem_id="sweep-best-note")  # beside the button: what it did
        progress = gr.HTML(sweep_progress_html(self.ctx.jobs.snapshot()), elem_id="sweep-progress-box")
        status = gr.Markdown(show_label=False, elem_id="sweep-status")
        with gr.Row():
            plots = [
                gr.Plot(label="Optimisation history", show_label=False, elem_id="sweep-history"),
                gr.Plot(label="Parameter importances", show_label=False, elem_id="sweep-importance"),
            ]
        plots.insert(1, gr.Plot(label="Parallel coordinates", show_label=False, elem_id="sweep-parallel"))
        table = gr.Dataframe(
            sweep_charts.empty_table(),
            interactive=False,
            wrap=False,
            label="Trials (newest first)",
            elem_id="sweep-trials-table",
        )
        note = gr.Markdown(elem_id="sweep-note")
        # preprocess=False: raw values go to start_sweep, whose messages name a bad field (Gradio's own
        # CheckboxGroup preprocessing fails on an API client's null with a bare TypeError).
        start.click(self.start_sweep, [vary, fixed, trials, study, who], status, api_name="sweep", preprocess=False)
        stop.click(self.stop_sweep, who, status, **PRIVATE)
        best.click(self.make_best_active, None, [model, best_note], **PRIVATE)
        status_api, status_btn = gr.JSON(visible=False, label="sweep_status"), gr.Button(visible=False)
        status_btn.click(self.sweep_status, None, status_api, api_name="sweep_status")
        seen = gr.State({})
        poll_outs = [progress, status, *plots, table, note, stop, seen]
        gr.Timer(1.0).tick(self.poll, [seen, who], poll_outs, show_progress="hidden", concurrency_limit=None, **PRIVATE)
        return SweepView(
            vary=vary,
            fixed=fixed,
            trials=trials,
            study=study,
            start=start,
            stop=stop,
            best=best,
            best_note=best_note,
            progress=progress,
            status=status,
            plots=plots,
            table=table,
            note=note,
        )

    # ------------------------------------------------------------------------------------- control
    def start_sweep(
        self,
        vary: list[str] | str | None,
        fixed: str | None,
        trials: Any,
        study: str | None,
        visitor: str | None = None,
        request: gr.Request | None = None,
    ) -> str:
        """Start a sweep varying `vary` with `fixed` pinned ('model=cnn,epochs=1'), `trials` trials, or put it
        in line behind the running job (API `sweep`)."""
        owner = visitor_id(visitor, request)
        try:
            count = _trial_count(trials)
            spec = SweepSpec(
                study=(study or "").strip() or new_study_name(),
                trials=count,
                vary=vary or list(DEFAULT_VARY),
                fixed=fixed or "",
            )
            state = self.ctx.jobs.start_sweep(spec, owner)
        except (ValueError, TypeError, SearchSpaceError, SweepError, JobError) as exc:
            raise user_error(page_words(str(exc))) from None
        if state.status == "queued":
            return f"Queued sweep **{spec.study}**: {state.message}"
        return f"Started sweep **{spec.study}**: {state.message}"

    def stop_sweep(self, visitor: str | None = None, request: gr.Request | None = None) -> str:
        """Stop the caller's running sweep (its running trial ends at the next step, completed trials are
        kept) or take their queued one out of the line; a run, or another visitor's sweep, goes on."""
        owner = visitor_id(visitor, request)
        mine, line = self.ctx.jobs.look(owner)
        if mine.kind == "sweep" and (mine.active or mine.status == "queued"):
            return self.ctx.jobs.stop(owner).message
        if line.current.active and line.current.kind == "sweep":
            return stop_refusal(line, owner)  # another visitor's sweep: says so, changes nothing
        return "No sweep in progress."

    def sweep_status(self) -> dict:
        """The current (or last) sweep: status, counts, best trial (API `sweep_status`)."""
        s = self.ctx.jobs.latest_sweep()
        if s is None:
            return {"status": "idle", "message": "No sweep yet on this server."}
        sw = s.sweep
        return {
            "status": s.status,
            "message": s.message,
            "progress": round(s.progress, 4),
            "study": sw.study,
            "trials": sw.trials,
            "trial": sw.index,
            "complete": sw.complete,
            "pruned": sw.pruned,
            "failed": sw.failed,
            "best_trial": sw.best_trial,
            "best_value": sw.best_value,
            "result": sw.result,
            "error": s.error,
        }

    # ------------------------------------------------------------------------------------- the study
    def study_views(self, study: str, figures: bool = True) -> tuple:
        """The three Optuna figures (skipped unless `figures`; a note says why one is missing) and the trials table."""
        try:
            opened = open_study(study)
            table = _shown(sweep_charts.trials_table(opened))
            drawn = sweep_charts.sweep_figures(opened) if figures else {}
        except Exception as exc:  # noqa: BLE001 - a study that cannot be read must not break the page
            return (gr.skip(),) * 3 + (gr.skip(), f"The study {study} cannot be read: {exc}")
        if not figures:
            return (gr.skip(),) * 3 + (table, gr.skip())
        notes = [f"{key}: {value}" for key, value in drawn.items() if isinstance(value, str)]
        plots = [None if isinstance(drawn[k], str) else drawn[k] for k in FIGURES]
        return (*plots, table, "; ".join(dict.fromkeys(notes)))

    def make_best_active(self) -> tuple:
        """Make the best completed trial of the current (or last) sweep the active model."""
        s = self.ctx.jobs.latest_sweep()
        if s is None:
            return gr.skip(), "No sweep yet: start one first."
        try:
            opened = open_study(s.sweep.study)
            best = opened.best_trial
        except ValueError:
            return gr.skip(), "No completed trial yet."
        except Exception as exc:  # noqa: BLE001
            return gr.skip(), f"The study cannot be read: {exc}"
        name = Path(best.user_attrs.get("checkpoint", "")).stem
        if name not in self.ctx.registry.names():
            return gr.skip(), f"The best trial's checkpoint ({name or 'none'}) is not among the runs."
        return chosen(name, self.ctx.registry.names()), (
            f"Active model: **{name}** (best trial {best.number}, val accuracy {best.value:.2%})."
        )

    def poll(self, seen: dict | None, visitor: str | None = None, request: gr.Request | None = None) -> tuple:
        """Timer tick: progress, status, the figures and the trials table, each only if it changed; Stop
        usable only while the visitor has a sweep running or in line (then the status is theirs).

        Outputs: progress, status, history, parallel, importance, trials table, note, Stop, `seen`.
        """
        seen = dict(seen or {})
        mine = self.ctx.jobs.view(visitor_id(visitor, request))
        queued = mine.kind == "sweep" and mine.status == "queued"
        stoppable = mine.kind == "sweep" and (mine.active or queued)
        stop = gr.skip() if seen.get("stoppable") == stoppable else gr.Button(interactive=stoppable)
        seen["stoppable"] = stoppable
        if queued:  # the visitor's sweep waits in line: its place, not the server's latest sweep
            if seen.get("queued") != mine.message:
                seen.update(queued=mine.message, version=None)
                return (
                    progress_html(mine).replace('id="train-progress"', 'id="sweep-progress"', 1),
                    mine.message,
                    *[gr.skip()] * 5,
                    stop,
                    seen,
                )
            return (*[gr.skip()] * 7, stop, seen)
        seen.pop("queued", None)
        s = self.ctx.jobs.latest_sweep()  # a training run started after a sweep does not hide it
        outputs: list[Any] = [gr.skip()] * 7
        if s is None:
            return (*outputs, stop, seen)
        if seen.get("version") != s.version or (s.active and seen.get("elapsed") != int(s.elapsed)):
            outputs[0:2] = [sweep_progress_html(s), s.message]
        study_key = [s.run_id, s.sweep.index, s.sweep.finished, s.active]
        figures_key = [s.run_id, s.sweep.finished]  # the figures only move when a trial ends
        if seen.get("study") != study_key:
            outputs[2:7] = self.study_views(s.sweep.study, figures=seen.get("figures") != figures_key)
        seen.update(version=s.version, elapsed=int(s.elapsed), study=study_key, figures=figures_key)
        return (*outputs, stop, seen)


def _shown(table):
    """The trials table for a visitor: run names, not server paths (as the Runs tab), and accuracies with four
    decimals each (0.9610 beside 0.9588: rounded floats showed 0.961)."""
    if "checkpoint" in table:
        table["checkpoint"] = [Path(str(p)).stem if p else "" for p in table["checkpoint"]]
    for column in ("val_acc", "test_acc"):
        if column in table:
            table[column] = [f"{v:.4f}" if isinstance(v, float) and v == v else "" for v in table[column]]
    return table.round({"seconds": 1}).rename(columns=sweep_charts.HEADERS)


def page_words(message: str) -> str:
    """A sweep's error in the page's words: the library names the command line's flags (--fix), the page
    its fields."""
    return message.replace("--fix: ", "Fixed fields: ")


def _trial_count(trials: Any) -> int:
    """The trial count from the page or an API client (a number, or text holding one); 0 when empty."""
    if trials in (None, ""):
        return 0
    try:
        return whole_number(trials)
    except (TypeError, ValueError):
        raise ValueError(f"trials: {trials!r} is not a whole number") from None
