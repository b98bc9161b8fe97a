"""Evaluate tab: test accuracy and loss, confusion matrix, per-class table, misclassified digits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import gradio as gr
import pandas as pd

from ...checkpoint_paths import CheckpointError
from .. import charts
from ..context import AppContext, user_error
from ..events import PRIVATE
from ..images import DIGIT_GALLERY, png_file

if TYPE_CHECKING:
    from pandas.io.formats.style import Styler

MISCLASSIFIED_SHOWN = 40
RATES = ("precision", "recall", "f1")  # the per-class table's columns in [0, 1]
ONE_AT_A_TIME = dict(concurrency_id="evaluate", concurrency_limit=1)  # an evaluation takes a core for seconds


@dataclass(frozen=True)
class EvaluateView:
    """The Evaluate tab's components, by name (EvaluateTab.build)."""

    evaluate: gr.Button
    summary: gr.Markdown
    confusion: gr.Plot
    per_class: gr.Dataframe
    wrong: gr.Gallery


class EvaluateTab:
    """Handlers of the Evaluate tab (API `evaluate`)."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def build(self, model: gr.Dropdown, tab: gr.Tab) -> EvaluateView:
        """The tab's components and events, inside app.py's `with gr.Tab("Evaluate") as tab`: the button
        (API `evaluate`) and opening the tab evaluate the model picked in `model`."""
        button = gr.Button("Evaluate the selected model on the test set", variant="primary")
        summary = gr.Markdown("Pick a model above, then evaluate it on the 10,000 test digits.")
        with gr.Row():
            confusion = gr.Plot(label="Confusion matrix", show_label=False, elem_id="confusion", scale=3)
            per_class = gr.Dataframe(label="Per-class precision and recall", interactive=False, scale=2)
        wrong = gr.Gallery(
            label=f"Misclassified test digits (first {MISCLASSIFIED_SHOWN}): true → predicted",
            columns=10,
            height="auto",
            object_fit="contain",
            elem_classes=DIGIT_GALLERY,
        )
        outputs = [summary, confusion, per_class, wrong]
        button.click(self.evaluate_model, model, outputs, api_name="evaluate", **ONE_AT_A_TIME)
        tab.select(self.evaluate_model, model, outputs, **PRIVATE, **ONE_AT_A_TIME)
        return EvaluateView(evaluate=button, summary=summary, confusion=confusion, per_class=per_class, wrong=wrong)

    def evaluate_model(self, model: str | None, progress: gr.Progress = gr.Progress()) -> tuple:
        """Summary, confusion matrix, per-class table and the first misclassified digits of a model."""
        progress(0.1, desc="loading the test set and the model")
        try:
            info = self.ctx.registry.info(model)
            data = self.ctx.data()
            progress(0.3, desc="evaluating 10,000 test digits")
            result = self.ctx.registry.evaluation(info.name, data)
        except CheckpointError as exc:
            raise user_error(exc) from None
        errors = len(result.misclassified)
        summary = (
            f"**{info.name}** ({info.config.model}): test accuracy **{result.accuracy:.2%}**, "
            f"loss {result.loss:.4f}, {errors} of {len(result.predicted):,} test digits misclassified"
            f"{f' (first {MISCLASSIFIED_SHOWN} shown below)' if errors > MISCLASSIFIED_SHOWN else ''}."
        )
        gallery = [
            (
                png_file(charts.enlarge(data.test_images[i].numpy(), 84)),
                f"true {int(data.test_labels[i])} → {result.predicted[i]}",
            )
            for i in result.misclassified[:MISCLASSIFIED_SHOWN]
        ]
        table = charts.per_class_table(result.precision, result.recall, result.confusion)
        return summary, charts.confusion_figure(result.confusion), shown_per_class(table), gallery


def shown_per_class(table: pd.DataFrame) -> Styler:
    """The per-class table as the page shows it: every rate with four decimals (0.9980 beside 0.9982, where
    the bare numbers showed 0.998); the values themselves (and the API's) are unchanged."""
    return table.style.format("{:.4f}", subset=[c for c in RATES if c in table])
