"""Runs tab: every trained model on this server, the visitor's own first; a click makes one the active
model, and a visitor may download or delete the runs they started (never another's)."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from ...atomic import atomic_write
from ..context import AppContext
from ..events import PRIVATE
from ..ownership import is_protected
from ..registry import DEFAULT_NAME, RUN_COLUMNS, Listing
from ..visitors import SECRET, visitor_id

MODEL_KEY = "mnist-lab-model"  # the browser's localStorage key of the model it chose
SHOW = ["all", "mine"]
DOWNLOAD_LABEL = "Download the active run (your runs only)"
MODEL_INFO = (
    "the bundled default or any run trained here (used by Draw and Evaluate); new runs appear by themselves; "
    "your browser remembers your choice"
)


def servable(path: Path) -> Path:
    """`path`, or a copy Gradio may serve: it serves files under the working folder or the temporary one
    only, and a checkpoint folder elsewhere (MNIST_CHECKPOINT_DIR=/data on a Space) would fail each Download."""
    resolved = path.resolve()
    if any(resolved.is_relative_to(Path(root).resolve()) for root in (os.getcwd(), tempfile.gettempdir())):
        return path
    folder = Path(tempfile.gettempdir()) / "mnist-lab-downloads"
    folder.mkdir(exist_ok=True)
    copy = folder / path.name
    atomic_write(copy, lambda fh: fh.write(path.read_bytes()), durable=False)
    return copy


def model_memory() -> gr.BrowserState:
    """The model this browser chose, in its localStorage. Made outside the tabs: a component inside a tab
    not yet opened is not mounted, and its stored value would not reach the page load that restores it.
    A fixed secret, so the choice survives a server restart (as visitors.SECRET)."""
    return gr.BrowserState("", storage_key=MODEL_KEY, secret=SECRET)


@dataclass(frozen=True)
class RunsView:
    """The Runs tab's components, by name (RunsTab.build)."""

    show: gr.Radio  # all runs (yours first) or only yours: an input of the page's poll, which refills the table
    table: gr.Dataframe
    note: gr.Markdown  # under the table: what a click on it did
    refresh: gr.Button
    load: gr.Button  # "Load the active run into Train": wired by app.py, as it fills the Train tab
    download: gr.DownloadButton
    delete: gr.Button
    action_note: gr.Markdown  # beside Download/Delete: what they did or why not
    memory: gr.BrowserState  # the model this browser chose (model_memory), restored by the page load (app.py)


class RunsTab:
    """Handlers of the Runs tab (API `runs`, `delete_run`)."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def build(self, model: gr.Dropdown, tab: gr.Tab, visitor: gr.State, memory: gr.BrowserState) -> RunsView:
        """The tab's components and events, inside app.py's `with gr.Tab("Runs") as tab`: the table is
        listed when the tab opens, on Refresh (API `runs`) or a change of filter; a click on a row sets
        `model`, the page's picker, which this browser then remembers (`memory`, made by `model_memory`
        outside the tabs). `visitor` is the page's per-session visitor id (visitors.session_visitor: never
        an API parameter, so no client names another)."""
        gr.Markdown(
            "Every trained model on this server, yours first (marked *yes* under **yours**). "
            "Click a row to make it the active model; you can download or delete the runs you started."
        )
        show = gr.Radio(SHOW, value="all", label="Show", elem_id="runs-show")
        table = gr.Dataframe(
            Listing().dataframe(),  # empty: the page's first poll fills it (and the model picker)
            interactive=False,
            wrap=False,
            label="Runs (click a column header to sort)",
            elem_id="runs-table",
        )
        note = gr.Markdown(elem_id="runs-note")
        with gr.Row():
            refresh = gr.Button("Refresh")
            load = gr.Button("Load the active run into Train", elem_id="load-run")
        with gr.Row():
            download = gr.DownloadButton(DOWNLOAD_LABEL, interactive=False, elem_id="runs-download")
            delete = gr.Button("Delete the active run", variant="stop", elem_id="runs-delete")
        action_note = gr.Markdown(elem_id="runs-action-note")

        listed = dict(inputs=[show, visitor], outputs=[table, note])
        refresh.click(self.runs_table, **listed, api_name="runs")
        tab.select(self.runs_table, **listed, **PRIVATE)
        show.change(self.runs_table, **listed, **PRIVATE)
        table.select(self.choose_run, None, [model, note], **PRIVATE)
        delete.click(self.delete_active, [model, show, visitor], [model, table, action_note], **PRIVATE)
        model.change(self.download_for, [model, visitor], download, show_progress="hidden", **PRIVATE)
        # Remembered by the browser itself, at once: a reload right after a click must find it stored.
        model.change(None, model, memory, js="(name) => name", **PRIVATE)
        # The API's delete: a run named by the client, answered with a sentence (not part of the page).
        name_api, delete_api = gr.Textbox(visible=False, label="run name"), gr.Button(visible=False)
        answer_api = gr.Textbox(visible=False, label="delete_run")
        delete_api.click(self.delete_run, [name_api, visitor], answer_api, api_name="delete_run")
        return RunsView(
            show=show,
            table=table,
            note=note,
            refresh=refresh,
            load=load,
            download=download,
            delete=delete,
            action_note=action_note,
            memory=memory,
        )

    # ------------------------------------------------------------------------------------- table
    def runs_table(self, show: str | None = "all", visitor: str | None = None, request: gr.Request = None) -> tuple:
        """The runs, the caller's first (or only theirs), plus a note about files that could not be read."""
        listing = self.ctx.registry.listing()
        problems = "".join(f"\n- `{name}`: {reason}" for name, reason in listing.problems)
        # The folder is not named: its server path is no business of a visitor of a public Space.
        note = f"Unreadable files in the checkpoint folder (ignored):{problems}" if problems else ""
        return self.frame(listing, visitor_id(visitor, request), show), note

    def frame(self, listing: Listing, owner: str | None, show: str | None = "all"):
        """`listing` as the table `owner` sees it: their runs marked and first; only theirs for show="mine"."""
        return listing.shown(self.ctx.registry.owned(owner, listing), only_mine=show == "mine")

    def choose_run(self, evt: gr.SelectData) -> tuple:
        """Clicking a row of the runs table makes that run the active model."""
        row = evt.row_value or []
        at = RUN_COLUMNS.index("name")
        name = str(row[at]) if len(row) > at else None
        if name not in self.ctx.registry.names():
            return gr.skip(), "Select a row of the table to make its model active."
        return chosen(name), f"Active model: **{name}** (used by Draw and Evaluate)."

    # ------------------------------------------------------------------------------------- yours
    def download_for(self, name: str | None, visitor: str | None, request: gr.Request = None) -> gr.DownloadButton:
        """The Download button for the active run: its checkpoint if the caller started it, else disabled."""
        owner = visitor_id(visitor, request)
        listing = self.ctx.registry.listing()
        run = listing.get(str(name)) if name else None
        if run is None or name not in self.ctx.registry.owned(owner, listing):
            return gr.DownloadButton(DOWNLOAD_LABEL, value=None, interactive=False)
        return gr.DownloadButton(f"Download {run.name}.pt", value=str(servable(run.path)), interactive=True)

    def delete_run(self, name: str | None, visitor: str | None = None, request: gr.Request = None) -> str:
        """Delete run `name` if the caller started it (API `delete_run`); else say why not."""
        return self._delete(name, visitor_id(visitor, request))[1]

    def delete_active(
        self, name: str | None, show: str | None, visitor: str | None, request: gr.Request = None
    ) -> tuple:
        """The page's Delete: the active run, if the caller's; the picker falls back to the bundled model."""
        owner = visitor_id(visitor, request)
        deleted, message = self._delete(name, owner)
        if not deleted:
            return gr.skip(), gr.skip(), message
        listing = self.ctx.registry.listing()
        names = listing.names
        picker = chosen(names[0], names) if names else gr.Dropdown(choices=[], value=None)
        return picker, self.frame(listing, owner, show), message

    def _delete(self, name: str | None, owner: str) -> tuple[bool, str]:
        """(deleted, what happened or why not): only the owner's own, finished or stopped runs go."""
        name = str(name or "")
        if not name:
            return False, "Choose a run first (click its row)."
        if name == DEFAULT_NAME:
            return False, "The bundled model cannot be deleted."
        if self.ctx.registry.listing().get(name) is None:
            return False, f"There is no run called {name[:80]!r}."
        if self.ctx.registry.owners.owner_of(name) != owner:
            return False, f"**{name}** is not yours: only the visitor who started a run can delete it."
        if is_protected(name, self.ctx.protected_runs()):
            return False, f"**{name}** is training or waiting in line: stop it first, then delete it."
        self.ctx.registry.remove(name)
        return True, f"Deleted **{name}**."

    # ------------------------------------------------------------------------------------- remembered model
    def restore_model(self, remembered: str | None) -> gr.Dropdown:
        """Page load: the model this browser chose last, if that run still exists (else it says so)."""
        if not remembered:
            return gr.skip()
        names = self.ctx.registry.names()
        if remembered in names:
            return gr.Dropdown(choices=names, value=remembered)
        return fallback_picker(names, remembered)


def fallback_picker(names: list[str], gone: str) -> gr.Dropdown:
    """The picker back on the bundled model (the first name), its info line saying the chosen run is gone."""
    first = names[0] if names else None
    info = f"the run you chose, {gone[:80]}, was removed from this server: showing {first or 'no model'} instead"
    return gr.Dropdown(choices=names, value=first, info=info)


def chosen(name: str, names: list[str] | None = None) -> gr.Dropdown:
    """The picker set to `name` by a click (Runs, Sweep), its info line back to the usual one."""
    if names is None:
        return gr.Dropdown(value=name, info=MODEL_INFO)
    return gr.Dropdown(choices=names, value=name, info=MODEL_INFO)
