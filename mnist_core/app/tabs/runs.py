"""Runs tab: every trained model on this server; a click makes one the active model."""

from __future__ import annotations

import gradio as gr

from ..context import AppContext


class RunsTab:
    """Handlers of the Runs tab (API `runs`)."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

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
