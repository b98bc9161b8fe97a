"""Runs tab: every trained model on this server; a click makes one the active model."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from ..context import AppContext
from ..events import PRIVATE
from ..registry import Listing


@dataclass(frozen=True)
class RunsView:
    """The Runs tab's components, by name (RunsTab.build)."""

    table: gr.Dataframe
    note: gr.Markdown
    refresh: gr.Button
    load: gr.Button  # "Load the active run into Train": wired by app.py, as it fills the Train tab


class RunsTab:
    """Handlers of the Runs tab (API `runs`)."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def build(self, model: gr.Dropdown, tab: gr.Tab) -> RunsView:
        """The tab's components and events, inside app.py's `with gr.Tab("Runs") as tab`: the table is
        listed when the tab opens or on Refresh (API `runs`); a click on a row sets `model`, the page's picker."""
        gr.Markdown("Every trained model on this server. Click a row to make it the active model.")
        table = gr.Dataframe(
            Listing().dataframe(),  # empty: the page's first poll fills it (and the model picker)
            interactive=False,
            wrap=False,
            label="Runs (click a column header to sort)",
            elem_id="runs-table",
        )
        note = gr.Markdown()
        refresh = gr.Button("Refresh")
        refresh.click(self.runs_table, None, [table, note], api_name="runs")
        tab.select(self.runs_table, None, [table, note], **PRIVATE)
        table.select(self.choose_run, None, [model, note], **PRIVATE)
        load = gr.Button("Load the active run into Train", elem_id="load-run")
        return RunsView(table=table, note=note, refresh=refresh, load=load)

    def runs_table(self) -> tuple:
        """All runs, plus a note about files that could not be read."""
        listing = self.ctx.registry.listing()
        problems = "".join(f"\n- `{name}`: {reason}" for name, reason in listing.problems)
        # The folder is not named: its server path is no business of a visitor of a public Space.
        note = f"Unreadable files in the checkpoint folder (ignored):{problems}" if problems else ""
        return listing.dataframe(), note

    def choose_run(self, evt: gr.SelectData) -> tuple:
        """Clicking a row of the runs table makes that run the active model."""
        row = evt.row_value or []
        name = str(row[0]) if row else None
        if name not in self.ctx.registry.names():
            return gr.skip(), "Select a row of the table to make its model active."
        return gr.Dropdown(value=name), f"Active model: **{name}** (used by Draw and Evaluate)."
