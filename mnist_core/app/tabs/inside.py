"""Inside tab: why the network reads a digit as it does (Integrated Gradients, layers, neighbours, map),
and "watch it learn" (a fixed grid of test digits and the first-layer filters while a run trains).

An image is read as the Draw tab reads it (Predictor.read_number), each digit of a number explainable
on its own; the Draw tab's "Explain this" sends its drawing here (explain_drawing). The test-set map
and the neighbour index are built once per checkpoint (slow the first time), in a background thread
started when the tab is opened or a digit explained; until then digits are explained without them, a
progress line says so, and the tab's 1 s timer shows the map by itself once ready (map_tick). Nothing
here blocks the page on that build.

A mark the model refuses ("not a digit") is explained as such: its refusal score against the model's
threshold, the digit it looks most like, and how far its nearest training digits are (their distances
in the gallery's captions), all as mnist_core.explain computed them. A model that cannot refuse (no
threshold) shows nothing about refusal.
"""

from __future__ import annotations

import logging
import math
import threading
import time
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
REFUSED_MARK = "?"  # a refused mark in the number read, as the Draw tab shows it (draw_view.REFUSED_MARK)
NEAR_LABEL = "8 nearest training digits (label · distance · #index)"
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


# The nearest-digits gallery sized to its content: Gradio's gallery keeps 320-450 px of height and 100 px
# columns (7.5 of 8 digits showed, then an empty band); here 8 in a row on a desktop, 4 a row on a phone,
# under the panel's label rather than beneath it, each caption under its digit rather than over its lower half.
CSS = """
#inside-near .grid-wrap { min-height: 0 !important; max-height: none !important; height: auto !important;
  overflow: visible !important; padding-top: calc(var(--size-2) + 1.8em) !important; }
#inside-near .grid-container { grid-template-columns: repeat(8, minmax(0, 1fr)) !important;
  grid-template-rows: none !important; grid-auto-rows: auto !important; }
@media (max-width: 640px) { #inside-near .grid-container { grid-template-columns: repeat(4, minmax(0, 1fr)) !important; } }
#inside-near .thumbnail-item { aspect-ratio: auto !important; height: auto !important; display: flex; flex-direction: column; }
#inside-near .thumbnail-item > img { aspect-ratio: 1; height: auto !important; object-fit: contain !important; }
#inside-near .caption-label { position: static !important; max-width: none !important; border: none !important;
  border-radius: 0 !important; text-align: center; }
"""

# What every explaining event renders, in this order (InsideTab._render); tests read them by name.
OUTPUTS = (
    "digits",
    "about",
    "picker",
    "map_for",
    "status",
    "info",
    "attribution",
    "layers",
    "neighbours",
    "map",
    "filters",
)
FILTER_COLUMNS = 8  # 32 filters in 4 rows of 8, each 60 px with 6 px between: readable in the narrow column
BUILDING = (
    "Building the map of the {n} test digits and the nearest training digits ({s:.0f} s so far; "
    "a minute or two the first time): they appear here by themselves."
)


@dataclass(frozen=True)
class InsideView:
    """The Inside tab's components, by name (InsideTab.build)."""

    image: gr.Image
    random: gr.Button
    picker: gr.Radio
    target: gr.Dropdown
    info: gr.Markdown
    status: gr.Markdown
    attribution: gr.Image
    filters: gr.Image
    map: gr.Plot
    neighbours: gr.Gallery
    layers: gr.Image
    learn_grid: gr.Image
    learn_filters: gr.Image
    explain_outputs: list  # what InsideTab.explain_drawing renders (OUTPUTS' components, in order)


class InsideTab:
    """Handlers of the Inside tab and of the API event `explain`.

    An image is read as the Draw tab reads it (Predictor.read_number): each digit of a number can be
    explained on its own (the picker). The test-set map is built in the background; the tab's timer
    shows it by itself once ready (`map_tick`), with a progress line meanwhile.
    """

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self._warming: dict[str, float] = {}  # checkpoint -> when its map build started (time.monotonic)
        self._failed: dict[str, str] = {}  # checkpoint -> why its map could not be built (not tried again)
        self._lock = threading.Lock()

    def build(self, model: gr.Dropdown, tab: gr.Tab) -> InsideView:
        """The tab's components and its events, inside app.py's `with gr.Tab("Inside") as tab`;
        `model` is the page's model picker."""
        digits, about, map_for = gr.State(None), gr.State(""), gr.State(None)
        seen_step = gr.State(None)
        with gr.Row():
            with gr.Column(scale=1, min_width=300):
                image = gr.Image(label="A digit to explain", type="filepath", height=200, elem_id="inside-upload")
                random = gr.Button("Random test digit", variant="primary", elem_id="inside-random")
                picker = gr.Radio(
                    [], label="The number's digits: explain", visible=False, elem_id="inside-pick", type="value"
                )
                target = gr.Dropdown(
                    TARGETS, value=PREDICTED, label="Why (not)...? Attribution for", elem_id="inside-target"
                )
                info = gr.Markdown(BLANK, elem_id="inside-info")
                attr = gr.Image(label="Attribution over the 28x28 input (method named above)", elem_id="inside-attr")
                gr.Markdown(
                    "**First-layer filters**: what the first layer looks for, each weight as a square "
                    "(red = positive, blue = negative).",
                    elem_id="inside-filters-caption",
                )
                filters = gr.Image(show_label=False, elem_id="inside-filters")
            with gr.Column(scale=2):
                status = gr.Markdown("", elem_id="inside-map-status")
                digit_map = gr.Plot(label="Map of the test set", show_label=False, elem_id="inside-map")
                near = gr.Gallery(label=NEAR_LABEL, columns=8, height="auto", elem_id="inside-near", preview=False)
                gr.Markdown("**Each layer's activations, in order** (its name and shape above it)")
                layers = gr.Image(show_label=False, elem_id="inside-layers")
        with gr.Accordion("Watch it learn: the latest run's answers on 50 fixed test digits", open=False):
            learn_md = gr.Markdown("Start a run in the Train tab: its answers appear here at every step event.")
            with gr.Row():
                learn_grid = gr.Image(label="green = right, red = wrong", elem_id="learn-grid")
                learn_filters = gr.Image(label="First-layer filters", elem_id="learn-filters")
        outs = [digits, about, picker, map_for, status, info, attr, layers, near, digit_map, filters]
        again = [digits, about, target, model]  # the picked digit rides in `digits`: the timer never reads the radio
        image.upload(self.explain, [image, target, model], outs, preprocess=False, **PRIVATE, **PREDICT)
        random.click(self.random_digit, [target, model], outs, **PRIVATE, **PREDICT)
        random.click(None, None, image, js="() => null", queue=False, **PRIVATE)  # the photo is no longer explained
        target.change(self.retarget, again, outs, **PRIVATE, **PREDICT)
        picker.input(
            self.again, [digits, about, picker, target, model], outs, **PRIVATE, **PREDICT
        )  # the visitor's choice
        tab.select(self.open_tab, [map_for, model], [map_for, status], **PRIVATE)
        # API `explain` takes a plain file, so a file that is not an image gets mnist_core's message.
        api_image, api_button = gr.File(visible=False, label="image"), gr.Button(visible=False)
        api_button.click(
            self.api_explain, [api_image, model], [info, attr, near, layers], api_name="explain", **PREDICT
        )
        timer = gr.Timer(1.0)
        timer.tick(
            self.learning,
            seen_step,
            [learn_grid, learn_filters, learn_md, seen_step],
            show_progress="hidden",
            **PRIVATE,
        )
        timer.tick(self.map_tick, [map_for, *again], outs, show_progress="hidden", **PRIVATE)
        return InsideView(
            image=image,
            random=random,
            picker=picker,
            target=target,
            info=info,
            status=status,
            attribution=attr,
            filters=filters,
            map=digit_map,
            neighbours=near,
            layers=layers,
            learn_grid=learn_grid,
            learn_filters=learn_filters,
            explain_outputs=outs,
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
            if predictor.index_ready or key in self._warming or key in self._failed:
                return
            self._warming[key] = time.monotonic()

        def build() -> None:
            try:
                predictor.inside_index()
            except Exception as exc:  # noqa: BLE001 - the page keeps explaining without the map
                log.warning("test-set map for %s not built: %s", key, exc)
                with self._lock:
                    self._failed[key] = str(exc) or type(exc).__name__
            finally:
                with self._lock:
                    self._warming.pop(key, None)

        threading.Thread(target=build, name="inside-index", daemon=True).start()

    def _progress(self, predictor: Predictor) -> str:
        """The progress line shown while this checkpoint's map is being built."""
        with self._lock:
            started, failed = self._warming.get(str(predictor.path)), self._failed.get(str(predictor.path))
        if failed:
            return f"The map of the test set could not be built ({failed}); digits are explained without it."
        seconds = 0.0 if started is None else time.monotonic() - started
        return BUILDING.format(n=f"{len(self.ctx.data().test_labels):,}", s=seconds)

    def open_tab(self, map_for: dict | None, model: str | None) -> tuple:
        """The tab is opened: start building the map (once) and ask the timer to show it when ready."""
        predictor = self._predictor(model)
        if (map_for or {}).get("shown") == _key(model):
            return map_for, gr.skip()
        self.warm_index(model)
        status = "" if predictor.index_ready else self._progress(predictor)
        return {"wanted": True, "shown": None}, status

    def map_tick(self, map_for: dict | None, digits, about: str, target, model: str | None) -> tuple:
        """Timer: once the map wanted by this page is ready, show it (with the current digit's place,
        neighbours and agreement); until then the progress line. Nothing is redrawn otherwise."""
        skip = tuple(gr.skip() for _ in OUTPUTS)
        if not map_for or not map_for.get("wanted") or map_for.get("shown") == _key(model):
            return skip
        try:
            predictor = self._predictor(model)
        except gr.Error:
            return skip  # the picker names a run that is gone: its own events say so
        if not predictor.index_ready:
            self.warm_index(model)
            with self._lock:
                failed = str(predictor.path) in self._failed
            # A failed build is not tried again: the timer stops asking until the tab is opened again.
            stop = {"map_for": {"wanted": False, "shown": None}} if failed else {}
            return _replace(skip, status=self._progress(predictor), **stop)
        if digits:
            return self._render(predictor, digits, about, _pick(None, digits), target, model, keep_picker=True)
        return _replace(
            skip, map_for={"wanted": True, "shown": _key(model)}, status="", map=map_figure(predictor.inside_index())
        )

    def _reading(self, predictor: Predictor, image: Any) -> dict | None:
        """The marks of any image, read as the Draw tab reads them: {"number": "2026" ("2?26" when a mark
        is not a digit), "images": their 28x28 inputs, left to right}, or None when there is none."""
        try:
            reading = predictor.read_number(image)
        except (ImageError, ValueError) as exc:
            raise user_error(str(exc).replace(str(image), Path(str(image)).name)) from None
        if not reading.digits:
            return None
        images = [np.asarray(d.image28, dtype=np.float32).tolist() for d in reading.digits]
        number = "".join(REFUSED_MARK if d.refused else str(d.digit) for d in reading.digits)
        return {"number": number, "images": images}

    def explain(self, image: Any, target: str | int | None, model: str | None, about: str = "") -> tuple:
        """Explain an image (array, file path or FileData dict): OUTPUTS, the first digit explained and a
        picker of the digits when it holds several. Never waits for the map."""
        if isinstance(image, dict):
            image = image.get("path")
        if image is None:
            return _blank()
        predictor = self._predictor(model)
        digits = self._reading(predictor, image)
        if not digits:
            return _blank()
        return self._render(predictor, digits, about, 0, target, model)

    def retarget(self, digits, about: str, target: str | int | None, model: str | None) -> tuple:
        """Another target ("why not 9?") for the digit on show."""
        return self.again(digits, about, None, target, model)

    def again(self, digits, about: str, pick, target: str | int | None, model: str | None) -> tuple:
        """The same image with another digit picked or another target ("why not 9?"): the text about the
        image (a test digit's index and label) stays."""
        if not digits:
            return _blank()
        return self._render(self._predictor(model), digits, about, _pick(pick, digits), target, model, True)

    def explain_drawing(
        self, drawing: str | None, upload: str | dict | None, target: str | int | None, model: str | None
    ) -> tuple:
        """Draw tab's "Explain this": the pad's drawing (a PNG data URL, None when blank), else the photo in
        its upload box -> OUTPUTS, the Inside tab's upload box emptied (it would show another image) and
        the Inside tab selected."""
        from .draw import decode_drawing

        inside = (None, gr.Tabs(selected="inside"))
        if drawing:
            try:
                pixels = decode_drawing(drawing)
            except ImageError as exc:
                raise user_error(exc) from None
            return (*self.explain(pixels, target, model, "Your drawing."), *inside)
        if upload:
            return (*self.explain(upload, target, model, "Your photo."), *inside)
        nothing = (
            "Nothing to explain: draw a digit or upload a photo on the Draw tab (or pick a random test digit here)."
        )
        return (*_blank(nothing), *inside)

    def _render(
        self, predictor: Predictor, digits: dict, about: str, pick: int, target, model: str | None, keep_picker=False
    ) -> tuple:
        """OUTPUTS for digit `pick` of `digits` (see _reading); with the map if it is ready, else its build starts."""
        from ...explain import explain

        ready = predictor.index_ready
        images, number = digits["images"], digits["number"]
        image28 = np.asarray(images[pick], dtype=np.float32)
        digits = {**digits, "pick": pick}
        index = predictor.inside_index() if ready else None
        try:
            e = explain(
                predictor.model,
                image28,
                index,
                _target(target),
                temperature=predictor.temperature,
                threshold=predictor.threshold,
            )
        except ValueError as exc:
            raise user_error(exc) from None
        if not ready:
            self.warm_index(model)
        lead = f"{about} " if about else ""
        if len(images) > 1 and REFUSED_MARK in number:
            lead += f"Reads **{number}** ({REFUSED_MARK} = not a digit); mark {pick + 1} of {len(images)}: "
        elif len(images) > 1:
            lead += f"Reads the number **{number}**; digit {pick + 1} of {len(images)}: "
        picker = gr.skip() if keep_picker else gr.Radio(choices=_choices(number), value=pick, visible=len(images) > 1)
        info, attr, layers, near, figure, filters = self._outputs(predictor, e, ready)
        map_for = {"wanted": True, "shown": _key(model) if ready else None}
        status = "" if ready else self._progress(predictor)
        return (digits, about, picker, map_for, status, lead + info, attr, layers, near, figure, filters)

    def _outputs(self, predictor: Predictor, e: Explanation, ready: bool) -> tuple:
        why = "" if e.target == e.closest else f" Showing why it might be **{e.target}** instead."
        attribution = f"Attribution: **{e.method}**, red = evidence for {e.target}, blue = against.{why}"
        neighbours, figure, near = [], None, []
        if ready:
            train = self.ctx.data().train_images
            # The label first: a phone's narrow thumbnails cut a caption's end.
            neighbours = [
                (png_file(255 - train[i].numpy()), _caption(i, label, d))
                for (i, label), d in zip(e.neighbours, e.neighbour_distances or [None] * len(e.neighbours))
            ]
            figure = map_figure(predictor.inside_index(), e.map_position)
            near = [f"{e.neighbour_agreement:.0%} of the 8 nearest training digits are {e.closest}s."]
        if e.refused:  # why first: the score, the hint, how far the training digits are; then the attribution
            info = " ".join(t for t in [_refusal_text(e), _distance_text(e), *near, attribution] if t)
        else:
            info = " ".join([f"Reads **{e.digit}** ({max(e.probabilities):.1%}).", attribution, *near])
        from ...layers import first_layer_filters

        filters = first_layer_filters(predictor.model).numpy()[:FILTERS_SHOWN]
        return (
            info,
            png_file(attribution_picture(e.image, e.attribution)),
            png_file(activations_picture(e.activations)),
            neighbours,
            figure,
            png_file(filters_picture(filters, columns=FILTER_COLUMNS, gap=6)),
        )

    def random_digit(self, target: str | int | None, model: str | None) -> tuple:
        """Explain a random test digit; the text names its index and true label whatever is asked next."""
        data = self.ctx.data()
        from ...data import sample_test

        i = sample_test(data, 1)[0]
        label = int(data.test_labels[i])
        return self.explain(data.test_images[i].numpy(), target, model, f"Test digit #{i}, true label **{label}**.")

    def api_explain(self, image: str | dict | None, model: str | None) -> tuple:
        """API `explain`: an image file -> (info, attribution image, nearest training digits, layer pictures)
        for its first digit (the text gives the whole number when there are several)."""
        out = dict(zip(OUTPUTS, self.explain(image, None, model)))
        return out["info"], out["attribution"], out["neighbours"], out["layers"]

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


def _refusal_text(e: Explanation) -> str:
    """Why a mark was refused, in plain words: its score against the model's threshold, and the hint."""
    return (
        f'**Not a digit**: its "not a digit" score is **{e.score:.2f}**, above this model\'s threshold '
        f"**{e.threshold:.2f}** (digits score below it). Closest digit: **{e.closest}** "
        f"({e.probabilities[e.closest]:.1%})."
    )


def _distance_text(e: Explanation) -> str:
    """How far the nearest training digit is, against a typical test digit's nearest ("" without neighbours)."""
    if not e.neighbour_distances:
        return ""
    nearest = e.neighbour_distances[0]
    if e.typical_distance is None or e.farther_than is None:
        return f"Its nearest training digit is at distance {nearest:.2f}."
    share = math.floor(100 * e.farther_than)  # "99%" only when at least 99%
    return (
        f"Its nearest training digit is **{e.how_far}**: distance {nearest:.2f}, where a typical test digit is "
        f"{e.typical_distance:.2f} from its nearest (farther than {share}% of them)."
    )


def _caption(i: int, label: int, distance: float | None) -> str:
    """A nearest training digit's caption: its label first (a phone's narrow thumbnails cut the end)."""
    return f"{label}: #{i}" if distance is None else f"{label} · {distance:.2f} · #{i}"


def _key(model: str | None) -> str:
    """The map state's name for a model (the default's is empty)."""
    return model or ""


def _pick(pick: Any, digits: dict) -> int:
    """The picked digit's position (None: the one on show), the first when none (or one out of range) is."""
    try:
        i = int(digits.get("pick", 0) if pick is None else pick)
    except (TypeError, ValueError):
        return 0
    return i if 0 <= i < len(digits["images"]) else 0


def _choices(number: str) -> list[tuple[str, int]]:
    """The picker's choices for a number read as "2026": ("1st: 2", 0), ("2nd: 0", 1), ..."""
    nth = {1: "st", 2: "nd", 3: "rd"}
    return [(f"{i}{nth.get(i if i < 20 else i % 10, 'th')}: {d}", i - 1) for i, d in enumerate(number, 1)]


def _replace(outputs: tuple, **values: Any) -> tuple:
    """OUTPUTS with some of them replaced by name."""
    named = dict(zip(OUTPUTS, outputs))
    named.update(values)
    return tuple(named[name] for name in OUTPUTS)


def _blank(text: str = BLANK) -> tuple:
    """OUTPUTS for nothing to explain (the map, if shown, stays)."""
    nothing = (None, "", gr.Radio(choices=[], value=None, visible=False), gr.skip(), gr.skip(), text)
    return (*nothing, None, None, [], gr.skip(), None)
