"""Curves tab and the page's timer: live loss and accuracy, overlaid past runs, what changed since the last tick."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import gradio as gr

from .. import charts
from ..context import AppContext
from ..events import PRIVATE
from ..jobs import JobState
from ..progress_bar import progress_html
from ..registry import Listing
from ..visitors import visitor_id
from .runs import fallback_picker

FIRST_POINT_WAIT = 30.0  # seconds Start's follow-up waits for a first step before leaving it to the tick


def _listing_signature(listing: Listing) -> tuple:
    return tuple((run.name, run.status, run.metrics.get("epochs_completed")) for run in listing.runs)


@dataclass(frozen=True)
class CurvesView:
    """The Curves tab's components, by name (CurvesTab.build)."""

    overlay: gr.Dropdown
    step_plot: gr.Plot
    loss_plot: gr.Plot
    accuracy_plot: gr.Plot

    @property
    def plots(self) -> list[gr.Plot]:
        """The three charts, in the order curve_figures and poll give them."""
        return [self.step_plot, self.loss_plot, self.accuracy_plot]


class CurvesTab:
    """Handlers of the Curves tab and of the timer that keeps the page current."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def build(self, names: list[str]) -> CurvesView:
        """The tab's components and its overlay event, inside app.py's `with gr.Tab("Curves")`; `names`
        are the runs on disk, offered for overlay. The page's timer (poll) is wired by app.py."""
        overlay = gr.Dropdown(
            names,
            value=[],
            multiselect=True,
            allow_custom_value=True,
            label="Compare with past runs",
            info="the live run is always shown; add finished runs to overlay their curves",
        )
        step_plot = gr.Plot(label="Loss per step", show_label=False, elem_id="step-plot")  # the figure has a title
        with gr.Row():
            loss_plot = gr.Plot(label="Loss per epoch", show_label=False, elem_id="epoch-loss-plot")
            accuracy_plot = gr.Plot(label="Accuracy per epoch", show_label=False, elem_id="epoch-accuracy-plot")
        view = CurvesView(overlay=overlay, step_plot=step_plot, loss_plot=loss_plot, accuracy_plot=accuracy_plot)
        overlay.change(self.curve_figures, overlay, view.plots, **PRIVATE)
        return view

    def _series(
        self, overlay: list[str] | None, live: JobState | None, listing: Listing | None = None, owner: str | None = None
    ):
        runs: list[charts.Series] = []
        if live is not None and live.run_id:
            # The server's job is always shown; labelled as another visitor's when it is not the caller's.
            whose = "another visitor's run" if owner is not None and live.owner not in ("", owner) else "latest run"
            runs.append(
                charts.Series(
                    f"{live.name} ({whose})",
                    live.steps_history,
                    live.epochs_history,
                    label_smoothing=float(live.config.get("label_smoothing") or 0.0),
                )
            )
        listing = listing if listing is not None else self.ctx.registry.listing()
        for name in overlay or []:
            info = listing.get(name)
            if info is None or (live is not None and live.run_id and info.name == live.name):
                continue
            steps, epochs = info.history.get("steps") or [], info.history.get("epochs") or []
            runs.append(charts.Series(info.name, steps, epochs, label_smoothing=info.config.label_smoothing))
        return runs

    def curve_figures(self, overlay: list[str] | None) -> tuple:
        """Step loss, epoch loss and epoch accuracy for the live run plus the selected past runs."""
        runs = self._series(overlay, self.ctx.jobs.snapshot())
        return charts.step_loss_figure(runs), charts.epoch_loss_figure(runs), charts.epoch_accuracy_figure(runs)

    def first_point(
        self,
        seen: dict | None,
        overlay: list[str] | None,
        model: str | None,
        visitor: str | None = None,
        show: str | None = "all",
        request: gr.Request = None,
    ) -> tuple:
        """Right after a Start: wait for the run's first step event (or its end) and answer as a tick
        does, so the first point shows as soon as it exists rather than at the next 1 s tick, which
        came half a second later on average. Only the step chart is drawn: the epoch charts (the last
        run's, to be cleared) are left to the next tick, off the path to the first point."""
        self.ctx.jobs.wait_for(lambda s: bool(s.steps_history) or not s.active, FIRST_POINT_WAIT)
        return self.poll(seen, overlay, model, visitor, show, request, epoch_charts=False)

    def poll(
        self,
        seen: dict | None,
        overlay: list[str] | None,
        model: str | None,
        visitor: str | None = None,
        show: str | None = "all",
        request: gr.Request = None,
        *,
        epoch_charts: bool = True,
    ) -> tuple:
        """Timer tick: refresh what changed since this browser's last tick (else skip every output).

        Outputs: progress, status, the three curves, the model picker, the overlay picker, the runs
        table, Stop, and this browser's new `seen` state. The progress, status and Stop are the visitor's
        own job's (running, queued with its place, or their last), the curves the server's job's. `epoch_charts=False` leaves the two epoch charts
        (and `seen`'s record of them) for a later tick. The page's model is reported in use (retention
        spares it); the runs table is the visitor's (`visitor`, `show`: see RunsTab.frame).
        """
        seen = dict(seen or {})
        s = self.ctx.jobs.snapshot()
        self.ctx.registry.note_in_use(model)  # before the listing, which may remove old runs
        listing = self.ctx.registry.listing()
        owner = visitor_id(visitor, request)
        signature = (*_listing_signature(listing), owner, show)
        new_version = seen.get("version") != s.version
        runs_changed = seen.get("runs") != signature
        skip = gr.skip()
        outputs = [skip] * 9
        mine = self.ctx.jobs.view(owner)
        shown = [progress_html(mine), mine.message]
        shown_key = zlib.crc32("\n".join(shown).encode())  # the wait and elapsed time change by the second
        stoppable = mine.active or mine.status == "queued"  # Stop is greyed out when you have nothing to stop
        if seen.get("stoppable") != stoppable:
            outputs[8] = gr.Button(interactive=stoppable)
        # The step chart moves with every event; the two epoch charts only when an epoch completes.
        # Redrawing only what changed keeps the page (and a browser on this machine) off the CPU the run trains on.
        epochs = [s.run_id, len(s.epochs_history)]
        new_epochs = epoch_charts and seen.get("epochs") != epochs
        if seen.get("shown") != shown_key:
            outputs[0:2] = shown
        if new_version or new_epochs:
            runs = self._series(overlay, s, listing, owner)
            if new_version:
                outputs[2] = charts.step_loss_figure(runs)
            if new_epochs:
                outputs[3:5] = charts.epoch_loss_figure(runs), charts.epoch_accuracy_figure(runs)
        if runs_changed:
            names = listing.names
            # The picked model is only replaced when it is gone: a value sent back would undo a pick the
            # visitor made while this tick was on its way (the tick carries the pick it started with).
            gone = model not in names
            # A chosen model that is gone (deleted, or removed by retention) falls back to the bundled one, saying so.
            if not gone:
                outputs[5] = gr.Dropdown(choices=names)
            elif model:
                outputs[5] = fallback_picker(names, str(model))
            else:
                outputs[5] = gr.Dropdown(choices=names, value=names[0] if names else None)
            outputs[6] = gr.Dropdown(choices=names)
            mine = self.ctx.registry.owned(owner, listing)
            outputs[7] = listing.shown(mine, only_mine=show == "mine")
        seen.update(version=s.version, runs=signature, shown=shown_key, stoppable=stoppable)
        if epoch_charts:
            seen["epochs"] = epochs
        return (*outputs, seen)
