"""Evaluate tab: test accuracy and loss, confusion matrix, per-class table, misclassified digits."""

from __future__ import annotations

import gradio as gr

from ...checkpoint_paths import CheckpointError
from .. import charts
from ..context import AppContext, user_error
from ..images import png_file

MISCLASSIFIED_SHOWN = 40


class EvaluateTab:
    """Handlers of the Evaluate tab (API `evaluate`)."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

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
        return summary, charts.confusion_figure(result.confusion), table, gallery
