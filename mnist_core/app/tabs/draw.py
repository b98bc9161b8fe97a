"""Draw tab: read a drawing, an uploaded image or a random test digit, and show what the model saw."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from ...checkpoint import CheckpointError
from ...data import sample_test
from ...predict import Prediction
from ...preprocess import ImageError
from .. import charts
from ..context import AppContext, user_error
from ..images import png_file

NO_DIGIT = "no digit"


def prediction_outputs(prediction: Prediction, info: str = "", true_label: int | None = None) -> tuple:
    """(label, probability chart, 28x28 view, info text) for one Prediction."""
    if prediction.digit is None:
        text = info or "Nothing to read: draw a digit (or upload an image with one)."
        return NO_DIGIT, charts.probability_figure(None), None, text
    confidences = {str(d): float(p) for d, p in enumerate(prediction.probabilities)}
    guess = f"**{prediction.digit}** ({prediction.confidence:.1%})"
    text = f"{info}Prediction: {guess}" if info else f"Prediction: {guess}"
    return (
        confidences,
        charts.probability_figure(prediction.probabilities, true_label),
        png_file(charts.enlarge(prediction.image, 168)),
        text,
    )


class DrawTab:
    """Handlers of the Draw tab (and the `predict` and `random_digit` API events)."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def _predict(self, image: Any, model: str | None) -> Prediction:
        try:
            return self.ctx.registry.predictor(model).predict(image)
        except (CheckpointError, ImageError) as exc:
            raise user_error(exc) from None

    def predict_sketch(self, sketch: dict | None, model: str | None) -> tuple:
        """Read the digit drawn on the sketchpad; an empty canvas gives 'no digit'."""
        if not sketch or sketch.get("composite") is None:
            return prediction_outputs(Prediction.nothing())
        return prediction_outputs(self._predict(sketch, model))

    def predict_upload(self, image: str | dict | None, model: str | None) -> tuple:
        """Read the digit in an image file (API `predict`: pass gradio_client.handle_file(path)).

        `image` is a path, or the page's raw FileData dict (its path already checked by Gradio to be
        an upload of this server).
        """
        name = None
        if isinstance(image, dict):
            image, name = image.get("path"), image.get("orig_name")
        if image is None:
            return prediction_outputs(Prediction.nothing(), "No image given. ")
        try:
            return prediction_outputs(self._predict(str(image), model))
        except gr.Error as exc:  # name the file as the user knows it, not by the server's upload path
            shown = Path(name).name if name else Path(image).name
            raise user_error(str(exc.message).replace(str(image), shown)) from None

    def random_test_digit(self, model: str | None) -> tuple:
        """Predict a random digit of the test set and show its true label beside the prediction."""
        data = self.ctx.data()
        index = sample_test(data, 1)[0]
        label = int(data.test_labels[index])
        image = data.test_images[index].numpy()
        prediction = self._predict(image, model)
        mark = "correct" if prediction.digit == label else "wrong"
        info = f"Test image #{index}, true label **{label}** ({mark}). "
        return (png_file(charts.enlarge(image, 280)), *prediction_outputs(prediction, info, true_label=label))
