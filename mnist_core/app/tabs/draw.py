"""Draw tab: read a drawing, an uploaded image or a random test digit, and show what the model saw.

The canvas is our own (`pad`): a gr.HTML whose JavaScript sends the drawing straight to the server
function `read_drawing` (one POST, not through the queue) and shows the returned answer at once.
Uploads and random test digits are Gradio events rendering the same answer (draw_view.result_html).
Every answer is the library's one reading (`Predictor.read_number`): one forward pass, shown as is.
"""

from __future__ import annotations

import base64
import binascii
import io
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr
import numpy as np
from PIL import Image, UnidentifiedImageError

from ...checkpoint_paths import CheckpointError
from ...preprocess import ImageError, load_image
from .. import charts
from ..context import AppContext, log, user_error
from ..events import PREDICT, PRIVATE
from ..images import png_file
from .draw_view import DIGIT, NO_DIGIT, NOT_A_DIGIT, marked_copy, result_html

if TYPE_CHECKING:
    from ...predict import NumberReading, Prediction

HERE = Path(__file__).resolve().parent
CSS = (HERE / "draw.css").read_text()
PAD_JS = (HERE / "draw_pad.js").read_text()
PAD_HTML = """<div class="pad-wrap">
  <div class="pad-stage"><canvas class="pad-canvas" aria-label="drawing area"></canvas><div class="pad-overlay"></div></div>
  <div class="pad-tools"><button class="pad-undo" type="button">Undo</button>
  <button class="pad-clear" type="button">Clear</button><span class="pad-tip">a digit or a whole number</span></div>
</div>"""
DATA_URL_PREFIX = "data:image/png;base64,"
MAX_DRAWING_CHARS = 4_000_000  # a canvas PNG is ~10 KB; anything near this is not a drawing
MAX_DRAWING_SIDE = 4096
WIPE_JS = "() => { window.drawPad?.wipe(); return null; }"  # canvas wiped, upload box emptied (its output)
UPLOAD = dict(sources=["upload", "clipboard"], height=150, elem_id="upload")  # the "...or upload a photo" box

__all__ = ["CSS", "DIGIT", "NOT_A_DIGIT", "NO_DIGIT", "DrawTab", "pad", "prediction_outputs", "result_html"]


def prediction_outputs(prediction: Prediction, info: str = "", true_label: int | None = None) -> tuple:
    """(label, probability chart, 28x28 view, info text) for one Prediction: the `predict` API's answer.

    The label is the digit's confidences, or "not a digit" (a refused drawing: the chart and the view are
    still shown, and the text gives the digit it looks most like), or "no digit" (nothing to read)."""
    if prediction.kind == NO_DIGIT or prediction.image is None:
        text = info or "Nothing to read: draw a digit (or upload an image with one)."
        return NO_DIGIT, charts.probability_figure(None), None, text
    chart = charts.probability_figure(prediction.probabilities, true_label)
    seen = png_file(charts.enlarge(prediction.image, 168))
    if prediction.kind == NOT_A_DIGIT:
        return NOT_A_DIGIT, chart, seen, f"{info}Not a digit: closest is **{prediction.closest}**."
    confidences = {str(d): float(p) for d, p in enumerate(prediction.probabilities)}
    guess = f"**{prediction.digit}** ({prediction.confidence:.1%})"
    return confidences, chart, seen, f"{info}Prediction: {guess}"


def api_outputs() -> list:
    """The `predict` API's hidden outputs: label, probability chart, 28x28 view, text (see prediction_outputs)."""
    return [gr.Label(visible=False), gr.Plot(visible=False), gr.Image(visible=False), gr.Markdown(visible=False)]


def decode_drawing(data_url: Any) -> np.ndarray:
    """The pad's PNG data URL as a grey uint8 array; ImageError names what is wrong with anything else."""
    if not isinstance(data_url, str) or not data_url.startswith(DATA_URL_PREFIX):
        raise ImageError("the drawing must be a PNG data URL (data:image/png;base64,...)")
    if len(data_url) > MAX_DRAWING_CHARS:
        raise ImageError(f"the drawing is too large ({len(data_url):,} characters; the limit is {MAX_DRAWING_CHARS:,})")
    try:
        raw = base64.b64decode(data_url[len(DATA_URL_PREFIX) :], validate=True)
        with Image.open(io.BytesIO(raw)) as image:
            if image.format != "PNG" or max(image.size) > MAX_DRAWING_SIDE:
                raise ImageError(f"the drawing must be a PNG of at most {MAX_DRAWING_SIDE} px a side")
            rgba = image.convert("RGBA")  # transparent parts are the paper: composite on white
            return np.asarray(Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba).convert("L"))
    except (binascii.Error, UnidentifiedImageError, OSError, ValueError) as exc:
        if isinstance(exc, ImageError):
            raise
        raise ImageError("the drawing is not a readable PNG") from None


@dataclass(frozen=True)
class DrawView:
    """The Draw tab's components, by name (DrawTab.build)."""

    pad: gr.HTML  # reads a drawing by itself (draw_pad.js), not through Gradio's events
    result: gr.HTML
    random: gr.Button
    upload: gr.Image
    explain: gr.Button  # "Explain this": wired by app.py to the Inside tab


class DrawTab:
    """Handlers of the Draw tab (and the `predict`, `read_number` and `random_digit` API events)."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def build(self, model: gr.Dropdown) -> DrawView:
        """The tab's components and events, inside app.py's `with gr.Tab("Draw")`: the pad and its answer,
        a random test digit, an upload, and the API events `random_digit`, `predict` and `read_number`;
        `model` is the page's model picker."""
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=320):
                drawing_pad = pad(self)
            with gr.Column(scale=2, min_width=300):
                result = gr.HTML(result_html(None), elem_id="draw-result")
                # Opens the Inside tab on what is shown here (app.py wires it: the Inside tab's handler).
                explain = gr.Button("Explain this", size="md", elem_id="explain-this")
        with gr.Row():
            random = gr.Button("Random test digit", scale=0, elem_id="random-digit")
            # type="filepath" with preprocess=False: mnist_core reads the file and explains a
            # text file named .png or a decompression bomb, not Gradio's bare "Error".
            upload = gr.Image(label="...or upload a photo", type="filepath", image_mode=None, **UPLOAD)
            # The pad clicks it when a drawing starts (draw_pad.js): the box empties in the browser.
            reset = gr.Button("Empty the upload box", visible="hidden", elem_id="upload-reset")
        upload.upload(self.show_upload, [upload, model], result, preprocess=False, **PRIVATE, **PREDICT)
        random.click(self.random_test_digit, model, result, api_name="random_digit", **PREDICT)
        # The answer shows one image at a time: a random digit empties the upload box and the canvas, an
        # upload the canvas, a drawing the upload box (all in the browser, no round trip).
        random.click(None, None, upload, js=WIPE_JS, queue=False, **PRIVATE)
        upload.upload(None, js="() => { window.drawPad?.wipe(); }", queue=False, **PRIVATE)
        reset.click(None, None, upload, js="() => null", queue=False, **PRIVATE)
        # API: `predict` (one digit: label, chart, 28x28 view, text) and `read_number` take plain files.
        api_image, api_outs = gr.File(visible=False), api_outputs()
        api = dict(inputs=[api_image, model], **PREDICT)
        gr.Button(visible=False).click(self.predict_upload, outputs=api_outs, api_name="predict", **api)
        gr.Button(visible=False).click(self.read_number, outputs=gr.JSON(visible=False), api_name="read_number", **api)
        return DrawView(pad=drawing_pad, result=result, random=random, upload=upload, explain=explain)

    def reading(self, image: Any, model: str | None) -> NumberReading:
        """Read any image (array, PIL image, file path) with the chosen model; bad input or model: gr.Error."""
        try:
            return self.ctx.registry.predictor(model).read_number(image)
        except (CheckpointError, ImageError) as exc:
            raise user_error(exc) from None

    def read_drawing(self, request: Any) -> dict:
        """The pad's server function: {"image": PNG data URL, "model": name} -> the answer as JSON.

        Returns number, digits (box, confidence, top3), the rendered answer `html`, the drawing's
        `size` (the frame of the boxes) and `server_ms`; a bad request or model gives {"error": message, "html": ...}.
        """
        started = time.perf_counter()
        request = request if isinstance(request, dict) else {}
        model = request.get("model") or None
        try:
            drawing = decode_drawing(request.get("image"))
            reading = self.reading(drawing, model if isinstance(model, str) else None)
        except (gr.Error, ImageError) as exc:
            message = exc.message if isinstance(exc, gr.Error) else str(exc)
            return {"error": message, "html": result_html(None, f"Cannot read the drawing: {message}")}
        except Exception:  # noqa: BLE001 - the pad gets a message, the log the traceback; the server keeps serving
            log.exception("read_drawing failed")
            return {"error": "internal error", "html": result_html(None, "Something went wrong; try again.")}
        return {
            **reading.as_json(),
            "html": result_html(reading),
            "size": [drawing.shape[1], drawing.shape[0]],
            "server_ms": round(1000 * (time.perf_counter() - started), 1),
        }

    def show_upload(self, image: str | dict | None, model: str | None) -> str:
        """The answer for an uploaded image, with a marked copy of it (the page's upload event)."""
        path, name = _file(image)
        if path is None:
            return result_html(None)
        try:
            try:
                pixels = load_image(path)  # opened once: read, then shown, as the library loaded it
            except ImageError as exc:
                raise user_error(exc) from None
            reading = self.reading(pixels, model)
            return result_html(reading, marked=marked_copy(pixels, reading))
        except gr.Error as exc:
            raise _named(exc, path, name) from None

    def read_number(self, image: str | dict | None, model: str | None) -> dict:
        """API `read_number`: an image file -> the library's NumberReading.as_json(): {"kind": "digit",
        "not a digit" or "no digit", "number": "2026" or None (unless every mark is a digit), "digits":
        [{kind, digit (None if not a digit), closest, confidence, box, top3}]}.

        Boxes are in the file's own pixels (upright), at any size.
        """
        path, name = _file(image)
        if path is None:
            return {"kind": NO_DIGIT, "number": None, "digits": []}
        try:
            return self.reading(path, model).as_json()
        except gr.Error as exc:
            raise _named(exc, path, name) from None

    def predict_upload(self, image: str | dict | None, model: str | None) -> tuple:
        """API `predict`: the one digit in an image file (pass gradio_client.handle_file(path)).

        `image` is a path, or the page's raw FileData dict (its path already checked by Gradio to be
        an upload of this server).
        """
        path, name = _file(image)
        if path is None:
            from ...predict import Prediction

            return prediction_outputs(Prediction.nothing(), "No image given. ")
        try:
            return prediction_outputs(self._predict(path, model))
        except gr.Error as exc:
            raise _named(exc, path, name) from None

    def _predict(self, image: Any, model: str | None) -> Prediction:
        try:
            return self.ctx.registry.predictor(model).predict(image)
        except (CheckpointError, ImageError) as exc:
            raise user_error(exc) from None

    def random_test_digit(self, model: str | None) -> str:
        """Read a random digit of the test set; the answer names its true label."""
        data = self.ctx.data()
        from ...data import sample_test

        index = sample_test(data, 1)[0]
        label = int(data.test_labels[index])
        image = data.test_images[index].numpy()  # uint8, white on black
        reading = self.reading(image, model)
        mark = "correct" if reading.number == str(label) else "wrong"
        info = f"Test image #{index}, true label {label} ({mark})."
        big = charts.enlarge(image, 168)
        return result_html(reading, info, marked=marked_copy(big, reading, frame=(28, 28)), true_label=label)


def _file(image: str | dict | None) -> tuple[str | None, str | None]:
    """(path, the visitor's file name) of a path or Gradio FileData dict."""
    if isinstance(image, dict):
        return image.get("path"), image.get("orig_name")
    return (str(image), None) if image is not None else (None, None)


def _named(exc: gr.Error, path: str, name: str | None) -> gr.Error:
    """The error naming the file as the user knows it, not by the server's upload path."""
    shown = Path(name).name if name else Path(path).name
    return user_error(str(exc.message).replace(str(path), shown))


def pad(tab: DrawTab) -> gr.HTML:
    """The drawing canvas: a gr.HTML whose script calls `tab.read_drawing` directly (see draw_pad.js)."""

    def read_drawing(request: dict) -> dict:  # a plain function: Gradio marks server functions with an attribute
        return tab.read_drawing(request)

    return gr.HTML(
        html_template=PAD_HTML,
        js_on_load=PAD_JS,
        server_functions=[read_drawing],
        apply_default_css=False,
        elem_id="draw-pad",
        head=f"<style>{CSS}</style>",  # the tab's CSS (answer panel, compact phone header) comes with the pad
        empty_html=result_html(None),
    )
