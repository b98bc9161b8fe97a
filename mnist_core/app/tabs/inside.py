"""Inside tab: why the network reads a digit as it does (Integrated Gradients, layers, neighbours, map),
and "watch it learn" (a fixed grid of test digits and the first-layer filters while a run trains).

The test-set map and the neighbour index are built once per checkpoint (slow the first time), in a
background thread started when the tab is opened; until then a digit is explained without them and
the page says the map is being computed. Nothing here blocks the page on that build.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr
import numpy as np
import plotly.graph_objects as go
from PIL import Image, ImageDraw

from ...checkpoint_paths import CheckpointError
from ...inside_pictures import LABEL_COLOURS, activations_picture, attribution_picture, filters_picture
from ...preprocess import ImageError
from .. import charts
from ..context import AppContext, user_error
from ..events import PREDICT, PRIVATE
from ..images import png_file
from ..train_process import FILTERS_SHOWN

if TYPE_CHECKING:  # torch: imported by the handlers, behind the first page
    from ...explain import Explanation
    from ...predict import Predictor

log = logging.getLogger("mnist_app")
PREDICTED = "the predicted digit"
TARGETS = [PREDICTED, *[str(d) for d in range(10)]]
BLANK = "Nothing to explain: upload an image with a digit, or pick a random test digit."
_HEX = ["#{:02x}{:02x}{:02x}".format(*c) for c in LABEL_COLOURS]


def _target(choice: str | int | None) -> int | None:
    return None if choice in (None, "", PREDICTED) else int(choice)


# The misread crosses and the current digit's ring: grey and pink of middle brightness, visible on the
# coloured dots and on a white or a dark page (black vanished on the dark theme).
MISREAD, RING = "#8c8c8c", "#ff1493"


def map_figure(index, position: tuple[float, float] | None = None) -> go.Figure:
    """The test-set map (plotly WebGL scatter): a colour per label, misclassified digits as crosses,
    the current digit as a large ring; hovering a dot names its index, label and the model's answer.
    The app's chart layout (charts.layout): transparent, title at the top left, legend below."""
    xy, labels, preds = index.map_xy, index.test_labels, index.test_predictions
    about = f"{len(labels):,} test digits by their last hidden layer ({index.method.upper()})"
    fig = go.Figure(layout=charts.layout("Map of the test set", about, height=480))  # a phone: no empty bands
    for d in range(10):
        rows = np.flatnonzero(labels == d)
        text = [f"test #{i}: label {d}, read as {preds[i]}" for i in rows]
        fig.add_trace(
            go.Scattergl(
                x=xy[rows, 0],
                y=xy[rows, 1],
                mode="markers",
                name=str(d),
                text=text,
                hoverinfo="text",
                marker=dict(size=4, color=_HEX[d], opacity=0.6),
            )
        )
    wrong = np.flatnonzero(labels != preds)
    fig.add_trace(
        go.Scattergl(
            x=xy[wrong, 0],
            y=xy[wrong, 1],
            mode="markers",
            name="misread",
            hoverinfo="text",
            text=[f"test #{i}: label {labels[i]}, read as {preds[i]} (wrong)" for i in wrong],
            marker=dict(size=7, color=MISREAD, symbol="x-thin", line=dict(width=1.5, color=MISREAD)),
        )
    )
    if position is not None:
        fig.add_trace(
            go.Scatter(
                x=[position[0]],
                y=[position[1]],
                mode="markers",
                name="this digit",
                hoverinfo="name",
                marker=dict(size=22, color="rgba(0,0,0,0)", line=dict(width=4, color=RING)),
            )
        )
    fig.update_layout(legend=dict(itemsizing="constant"))
    fig.update_xaxes(showticklabels=False, zeroline=False, showgrid=False)
    fig.update_yaxes(showticklabels=False, zeroline=False, showgrid=False, scaleanchor="x")
    return fig


def learning_picture(images: np.ndarray, labels: np.ndarray, snapshot: dict, scale: int = 2) -> Image.Image:
    """The fixed digits in rows of ten, each framed green (right) or red (wrong) with the model's answer."""
    tiles = []
    for image, label, pred, ok in zip(images, labels, snapshot["predictions"], snapshot["correct"]):
        tile = Image.new("RGB", (28 * scale + 6, 28 * scale + 18), (46, 160, 67) if ok else (214, 39, 40))
        ink = (255 - np.asarray(image, dtype=np.uint8)).repeat(scale, 0).repeat(scale, 1)
        tile.paste(Image.fromarray(ink).convert("RGB"), (3, 3))
        ImageDraw.Draw(tile).text((5, 28 * scale + 4), f"{label} -> {pred}", fill=(255, 255, 255))
        tiles.append(tile)
    columns = 10
    w, h = tiles[0].size
    sheet = Image.new("RGB", (columns * (w + 2), -(-len(tiles) // columns) * (h + 2)), (255, 255, 255))
    for i, tile in enumerate(tiles):
        sheet.paste(tile, ((i % columns) * (w + 2), (i // columns) * (h + 2)))
    return sheet


@dataclass(frozen=True)
class InsideView:
    """The Inside tab's components, by name (InsideTab.build)."""

    image: gr.Image
    random: gr.Button
    target: gr.Dropdown
    info: gr.Markdown
    attribution: gr.Image
    filters: gr.Image
    map: gr.Plot
    neighbours: gr.Gallery
    layers: gr.Image
    learn_grid: gr.Image
    learn_filters: gr.Image


class InsideTab:
    """Handlers of the Inside tab and of the API event `explain`."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self._warming: set[str] = set()
        self._lock = threading.Lock()

    def build(self, model: gr.Dropdown, tab: gr.Tab) -> InsideView:
        """The tab's components and its events, inside app.py's `with gr.Tab("Inside") as tab`;
        `model` is the page's model picker."""
        with gr.Row():
            with gr.Column(scale=1, min_width=300):
                digit28, seen_step = gr.State(None), gr.State(None)
                image = gr.Image(label="A digit to explain", type="filepath", height=200, elem_id="inside-upload")
                random = gr.Button("Random test digit", variant="primary", elem_id="inside-random")
                target = gr.Dropdown(
                    TARGETS, value=PREDICTED, label="Why (not)...? Attribution for", elem_id="inside-target"
                )
                info = gr.Markdown(BLANK, elem_id="inside-info")
                attr = gr.Image(label="Attribution over the 28x28 input (method named above)", elem_id="inside-attr")
                filters = gr.Image(label="First-layer filters (red +, blue -)", elem_id="inside-filters")
            with gr.Column(scale=2):
                digit_map = gr.Plot(label="Map of the test set", show_label=False, elem_id="inside-map")
                near = gr.Gallery(label="8 nearest training digits", columns=8, height="auto", elem_id="inside-near")
                layers = gr.Image(label="Each layer's activations, in order", elem_id="inside-layers")
        with gr.Accordion("Watch it learn: the latest run's answers on 50 fixed test digits", open=False):
            learn_md = gr.Markdown("Start a run in the Train tab: its answers appear here at every step event.")
            with gr.Row():
                learn_grid = gr.Image(label="green = right, red = wrong", elem_id="learn-grid")
                learn_filters = gr.Image(label="First-layer filters", elem_id="learn-filters")
        outs = [digit28, info, attr, layers, near, digit_map, filters]
        image.upload(self.explain, [image, target, model], outs, preprocess=False, **PRIVATE, **PREDICT)
        random.click(self.random_digit, [target, model], outs, **PRIVATE, **PREDICT)
        target.change(self.explain, [digit28, target, model], outs, **PRIVATE, **PREDICT)
        tab.select(self.warm_index, model, None, **PRIVATE)
        # API `explain` takes a plain file, so a file that is not an image gets mnist_core's message.
        api_image, api_button = gr.File(visible=False, label="image"), gr.Button(visible=False)
        api_button.click(
            self.api_explain, [api_image, model], [info, attr, near, layers], api_name="explain", **PREDICT
        )
        gr.Timer(1.0).tick(
            self.learning,
            seen_step,
            [learn_grid, learn_filters, learn_md, seen_step],
            show_progress="hidden",
            **PRIVATE,
        )
        return InsideView(
            image=image,
            random=random,
            target=target,
            info=info,
            attribution=attr,
            filters=filters,
            map=digit_map,
            neighbours=near,
            layers=layers,
            learn_grid=learn_grid,
            learn_filters=learn_filters,
        )

    def _predictor(self, model: str | None) -> Predictor:
        try:
            return self.ctx.registry.predictor(model)
        except CheckpointError as exc:
            raise user_error(exc) from None

    def warm_index(self, model: str | None) -> None:
        """Build the model's map and neighbour index in a background thread (once; returns at once)."""
        predictor = self._predictor(model)
        key = str(predictor.path)
        with self._lock:
            if predictor.index_ready or key in self._warming:
                return
            self._warming.add(key)

        def build() -> None:
            try:
                predictor.inside_index()
            except Exception as exc:  # noqa: BLE001 - the page keeps explaining without the map
                log.warning("test-set map for %s not built: %s", key, exc)
            finally:
                with self._lock:
                    self._warming.discard(key)

        threading.Thread(target=build, name="inside-index", daemon=True).start()

    def explain(self, image: Any, target: str | int | None, model: str | None) -> tuple:
        """Explain one image (28x28 float array, file path or FileData dict): (digit state, info,
        attribution, activations, neighbours, map, filters). Never waits for the map."""
        if isinstance(image, dict):
            image = image.get("path")
        if image is None or (isinstance(image, list) and not image):
            return (None, BLANK, None, None, [], None, None)
        if isinstance(image, list):
            image = np.asarray(image, dtype=np.float32)
        predictor = self._predictor(model)
        ready = predictor.index_ready
        try:
            e: Explanation = predictor.explain(image, _target(target), use_index=ready)
        except (ImageError, ValueError) as exc:
            raise user_error(str(exc).replace(str(image), Path(str(image)).name)) from None
        if e.digit is None:
            return (None, BLANK, None, None, [], None, None)
        if not ready:
            self.warm_index(model)
        return (e.image.tolist(), *self._outputs(predictor, e, ready))

    def _outputs(self, predictor: Predictor, e: Explanation, ready: bool) -> tuple:
        why = "" if e.target == e.digit else f" Showing why it might be **{e.target}** instead."
        info = f"Reads **{e.digit}** ({max(e.probabilities):.1%}). Attribution: **{e.method}**, red = evidence for {e.target}, blue = against.{why}"
        neighbours, figure = [], None
        if ready:
            train = self.ctx.data().train_images
            neighbours = [(png_file(255 - train[i].numpy()), f"#{i}: {label}") for i, label in e.neighbours]
            figure = map_figure(predictor.inside_index(), e.map_position)
            agree = e.neighbour_agreement
            info += f" {agree:.0%} of the 8 nearest training digits are {e.digit}s."
        else:
            info += " The map of the test set and the nearest training digits are being computed (a minute or two the first time); explain again to see them."
        from ...layers import first_layer_filters

        filters = first_layer_filters(predictor.model).numpy()[:FILTERS_SHOWN]
        return (
            info,
            png_file(attribution_picture(e.image, e.attribution)),
            png_file(activations_picture(e.activations)),
            neighbours,
            figure,
            png_file(filters_picture(filters)),
        )

    def random_digit(self, target: str | int | None, model: str | None) -> tuple:
        """Explain a random test digit."""
        data = self.ctx.data()
        from ...data import sample_test

        i = sample_test(data, 1)[0]
        out = self.explain(data.test_images[i].numpy(), target, model)
        label = int(data.test_labels[i])
        return (out[0], f"Test digit #{i}, true label **{label}**. {out[1]}", *out[2:])

    def api_explain(self, image: str | dict | None, model: str | None) -> tuple:
        """API `explain`: an image file -> (info, attribution image, nearest training digits, layer pictures)."""
        _, info, attribution, activations, neighbours, _, filters = self.explain(image, None, model)
        return info, attribution, neighbours, activations

    def learning(self, seen: list | tuple | None) -> tuple:
        """Timer tick: the live grid of fixed test digits, the first-layer filters and a caption for the
        latest run (each output skipped when nothing changed since this browser's last tick)."""
        s = self.ctx.jobs.snapshot()
        live = s.learning
        if not live or list(seen or []) == [s.run_id, live["step"]]:
            return gr.skip(), gr.skip(), gr.skip(), seen
        data = self.ctx.data()
        idx = np.asarray(live["indices"])
        grid = learning_picture(data.test_images[idx].numpy(), data.test_labels[idx].numpy(), live)
        right = sum(live["correct"])
        filters = png_file(filters_picture(np.asarray(live["filters"], dtype=np.float32)))
        caption = (
            f"**{s.name}**, step {live['step']}/{live['steps']}: {right} of {len(idx)} fixed test digits read right."
        )
        return png_file(grid), filters, caption, [s.run_id, live["step"]]
