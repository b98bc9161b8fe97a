"""MNIST digit recognition: a Gradio app that wires widgets to mnist_core (no ML logic here).

Run `python app.py` (flags: --host, --port, --share) and open the printed URL. Tabs: Draw, Train,
Curves, Evaluate, Data, Runs. The main events are also an API (names: predict, train, stop, status,
evaluate, runs) that `gradio_client.Client` can call.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no phoning home: the demo must work offline
# MNIST lives in the repository's data/ unless told otherwise, wherever the app is started from.
os.environ.setdefault("MNIST_DATA_DIR", str(Path(__file__).resolve().parent / "data"))

import gradio as gr  # noqa: E402
from gradio import processing_utils  # noqa: E402

from mnist_core.app import charts  # noqa: E402
from mnist_core.app.jobs import JobError, JobManager, JobState  # noqa: E402
from mnist_core.app.registry import Listing, RunRegistry  # noqa: E402
from mnist_core.checkpoint import CheckpointError  # noqa: E402
from mnist_core.config import TrainConfig, describe_range, field_type, fields  # noqa: E402
from mnist_core.predict import Prediction  # noqa: E402
from mnist_core.preprocess import ImageError  # noqa: E402

log = logging.getLogger("mnist_app")

REGISTRY = RunRegistry()
JOBS = JobManager()
MISCLASSIFIED_SHOWN = 40
SAMPLES_SHOWN = 30
NO_DIGIT = "no digit"
# Gradio accepts uploads of any size by default: on a shared Space one visitor could fill the disk.
MAX_UPLOAD = "50mb"


def _save_pil_to_cache_atomically(img, cache_dir: str, name: str = "image", format: str = "webp") -> str:
    """gradio's save_pil_to_cache, but atomic: write a temporary file, then rename it into place.

    Gradio names a cached image by its content and rewrites that file in place each time, so when two
    visitors get the same image (a digit's 28x28 view, the Data tab's samples) one of them could
    fetch it while it is rewritten and get a truncated file ("Too little data for declared
    Content-Length"). gradio's own save_file_to_cache already writes this way.
    """
    data = processing_utils.encode_pil_to_bytes(img, format)
    folder = Path(cache_dir) / processing_utils.hash_bytes(data)
    folder.mkdir(exist_ok=True, parents=True)
    path = (folder / f"{name}.{format}").resolve()
    fd, staging = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(staging, path)  # a new file each time also keeps delete_cache from aging it early
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise
    return str(path)


# Every image output (Image, Gallery) goes through this function, looked up on the module at call time.
processing_utils.save_pil_to_cache = _save_pil_to_cache_atomically


def _data():
    """MNIST tensors, loaded once on first use (not at start-up, to serve the page fast)."""
    from mnist_core.data import load_mnist_cached

    return load_mnist_cached(log=log.info)


def _user_error(exc: Exception) -> gr.Error:
    """A readable message for the page or the API client, never a traceback."""
    return gr.Error(str(exc), print_exception=False)


# ------------------------------------------------------------------------------------- Draw
def _prediction_outputs(prediction: Prediction, info: str = "", true_label: int | None = None) -> tuple:
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
        charts.enlarge(prediction.image, 168),
        text,
    )


def _predict(image: Any, model: str | None) -> Prediction:
    try:
        return REGISTRY.predictor(model).predict(image)
    except (CheckpointError, ImageError) as exc:
        raise _user_error(exc) from None


def predict_sketch(sketch: dict | None, model: str | None) -> tuple:
    """Read the digit drawn on the sketchpad; an empty canvas gives 'no digit'."""
    if not sketch or sketch.get("composite") is None:
        return _prediction_outputs(_no_prediction())
    return _prediction_outputs(_predict(sketch, model))


def predict_upload(image: str | dict | None, model: str | None) -> tuple:
    """Read the digit in an image file (API `predict`: pass gradio_client.handle_file(path)).

    `image` is a path, or the page's raw FileData dict (its path already checked by Gradio to be
    an upload of this server).
    """
    name = None
    if isinstance(image, dict):
        image, name = image.get("path"), image.get("orig_name")
    if image is None:
        return _prediction_outputs(_no_prediction(), "No image given. ")
    try:
        return _prediction_outputs(_predict(str(image), model))
    except gr.Error as exc:  # name the file as the user knows it, not by the server's upload path
        shown = Path(name).name if name else Path(image).name
        raise _user_error(ValueError(str(exc.message).replace(str(image), shown))) from None


def _no_prediction() -> Prediction:
    return Prediction(None, [0.0] * 10, None)


def random_test_digit(model: str | None) -> tuple:
    """Predict a random digit of the test set and show its true label beside the prediction."""
    from mnist_core.data import sample_test

    data = _data()
    index = sample_test(data, 1)[0]
    label = int(data.test_labels[index])
    image = data.test_images[index].numpy()
    prediction = _predict(image, model)
    mark = "correct" if prediction.digit == label else "wrong"
    info = f"Test image #{index}, true label **{label}** ({mark}). "
    return (charts.enlarge(image, 280), *_prediction_outputs(prediction, info, true_label=label))


# ------------------------------------------------------------------------------------ Train
def _slider_step(default: float, lo: float, hi: float) -> float:
    """A round step giving ~100+ positions on the range, fine enough to hit the default exactly."""
    step = 10.0 ** math.floor(math.log10((hi - lo) / 100)) if hi > lo else 1.0
    while step > 1e-6 and abs(round(default / step) * step - default) > step * 1e-6:
        step /= 10
    return step


def hyperparameter_widgets(per_row: int = 4) -> dict[str, gr.Component]:
    """One widget per TrainConfig field, built from its metadata (type, range, choices, help), in rows."""
    widgets: dict[str, gr.Component] = {}
    all_fields = fields()
    for start in range(0, len(all_fields), per_row):
        with gr.Row(equal_height=False):
            for f in all_fields[start : start + per_row]:
                widgets[f.name] = _widget(f)
    return widgets


def _widget(f) -> gr.Component:
    """The widget of one field: checkbox, dropdown, textbox, (log) number or slider."""
    m, kind, label = f.metadata, field_type(f), f.name.replace("_", " ")
    info = f"{m['help']}; allowed: {describe_range(f)}"
    common = dict(min_width=200, elem_id=f"hp-{f.name}")
    if kind is bool:
        return gr.Checkbox(value=f.default, label=label, info=m["help"], **common)
    if "choices" in m:
        return gr.Dropdown(list(m["choices"]), value=f.default, label=label, info=m["help"], **common)
    if m.get("kind") == "int_list":
        return gr.Textbox(value=f.default, label=label, info=info, **common)
    if m.get("log"):
        # The value itself is a Number (what the API takes); a slider over log10 drives it.
        with gr.Column(min_width=200):
            number = gr.Number(
                value=f.default, minimum=m["min"], maximum=m["max"], label=label, info=info, elem_id=f"hp-{f.name}"
            )
            slider = gr.Slider(
                math.log10(m["min"]),
                math.log10(m["max"]),
                value=round(math.log10(f.default), 2),
                step=0.01,
                precision=2,
                label=f"log10({f.name}): drag to set {label} on a log scale",
            )
        slider.input(lambda x: float(f"{10**x:.3g}"), slider, number, api_visibility="private", queue=False)
        number.input(_log10_or_skip, number, slider, api_visibility="private", queue=False)
        return number
    lo, hi = m["min"], m["max"]
    if f.name == "epochs" and JOBS.caps.max_epochs is not None:
        hi = min(hi, JOBS.caps.max_epochs)
    if kind is int and hi - lo > 100_000:  # e.g. a seed: a slider would be useless
        return gr.Number(value=f.default, minimum=lo, maximum=hi, precision=0, label=label, info=info, **common)
    if hi <= lo:  # MNIST_MAX_EPOCHS=1: Gradio refuses a slider from 1 to 1, and the app would not start
        return gr.Number(
            value=lo, minimum=lo, maximum=lo, precision=0, interactive=False, label=label, info=info, **common
        )
    step = _slider_step(f.default, lo, hi)
    if kind is int:  # e.g. train_size moves in steps of 100; batch_size in steps of 1 (its default is 128)
        step = max(1, int(step)) if step >= 1 and (f.default - lo) % int(step) == 0 else 1
        return gr.Slider(lo, hi, value=f.default, step=step, precision=0, label=label, info=m["help"], **common)
    return gr.Slider(lo, hi, value=f.default, step=step, label=label, info=m["help"], **common)


def _log10_or_skip(value: float | None):
    return math.log10(value) if value and value > 0 else gr.skip()


def start_training(**hyperparameters: Any) -> str:
    """Validate the hyperparameters and start a background run (API `train`); refused if one is running."""
    try:
        cfg = TrainConfig.from_dict({k: v for k, v in hyperparameters.items() if v is not None})
        state = JOBS.start(cfg)
    except (ValueError, JobError) as exc:
        raise _user_error(exc) from None
    return f"Started run **{state.name}**: {state.message}"


def stop_training() -> str:
    """Ask the running job to stop (API `stop`); the last completed epoch is kept."""
    state = JOBS.stop()
    return state.message if state.active else f"No run in progress. {state.message}"


def training_status() -> dict:
    """The current run's status, progress and metrics (API `status`)."""
    s = JOBS.snapshot()
    return {
        "status": s.status,
        "message": s.message,
        "progress": round(s.progress, 4),
        "epoch": s.epoch,
        "epochs": s.epochs,
        "run": s.name,
        "metrics": s.metrics,
        "error": s.error,
    }


def progress_html(s: JobState) -> str:
    """A progress bar with the run's state."""
    color = {"failed": "#d62728", "stopped": "#ff7f0e", "done": "#2ca02c"}.get(s.status, "#1f77b4")
    pct = max(0.0, min(1.0, s.progress)) * 100
    current = min(s.epoch + 1, s.epochs) if s.active else s.epoch  # the epoch in progress, else the last one
    caption = f"{s.status} · {pct:.0f}% · epoch {current}/{s.epochs} · {s.elapsed:.0f} s" if s.run_id else "idle"
    return (
        f'<div id="train-progress" data-status="{s.status}" style="width:100%">'
        f'<div style="height:14px;border-radius:7px;background:#e5e7eb;overflow:hidden">'
        f'<div style="height:100%;width:{pct:.1f}%;background:{color}"></div></div>'
        f'<div style="font-size:0.9em;margin-top:4px">{caption}</div></div>'
    )


# ----------------------------------------------------------------------------------- Curves
def _series(overlay: list[str] | None, live: JobState | None, listing: Listing | None = None) -> list[charts.Series]:
    runs: list[charts.Series] = []
    if live is not None and live.run_id:
        runs.append(charts.Series(f"{live.name} (this server's latest run)", live.steps_history, live.epochs_history))
    listing = listing if listing is not None else REGISTRY.listing()
    for name in overlay or []:
        info = listing.get(name)
        if info is None or (live is not None and live.run_id and info.name == live.name):
            continue
        runs.append(charts.Series(info.name, info.history.get("steps") or [], info.history.get("epochs") or []))
    return runs


def curve_figures(overlay: list[str] | None) -> tuple:
    """Step loss, epoch loss and epoch accuracy for the live run plus the selected past runs."""
    runs = _series(overlay, JOBS.snapshot())
    return charts.step_loss_figure(runs), charts.epoch_loss_figure(runs), charts.epoch_accuracy_figure(runs)


def _listing_signature(listing: Listing) -> tuple:
    return tuple((run.name, run.status, run.metrics.get("epochs_completed")) for run in listing.runs)


def poll(seen: dict | None, overlay: list[str] | None, model: str | None) -> tuple:
    """Timer tick: refresh what changed since this browser's last tick (else skip every output)."""
    seen = dict(seen or {})
    s = JOBS.snapshot()
    listing = REGISTRY.listing()
    signature = _listing_signature(listing)
    job_changed = seen.get("version") != s.version or (s.active and seen.get("elapsed") != int(s.elapsed))
    runs_changed = seen.get("runs") != signature
    skip = gr.skip()
    outputs = [skip] * 8
    # The step chart moves with every event; the two epoch charts only when an epoch completes.
    # Redrawing only what changed keeps the page (and a browser on this machine) off the CPU the run trains on.
    epochs = [s.run_id, len(s.epochs_history)]
    if job_changed:
        outputs[0:2] = [progress_html(s), s.message]
        if seen.get("version") != s.version:
            runs = _series(overlay, s, listing)
            outputs[2] = charts.step_loss_figure(runs)
            if seen.get("epochs") != epochs:
                outputs[3:5] = charts.epoch_loss_figure(runs), charts.epoch_accuracy_figure(runs)
    if runs_changed:
        names = [name for name, *_ in signature]
        outputs[5] = gr.Dropdown(choices=names, value=model if model in names else (names[0] if names else None))
        outputs[6] = gr.Dropdown(choices=names)
        outputs[7] = listing.dataframe()
    seen.update(version=s.version, elapsed=int(s.elapsed), runs=signature, epochs=epochs)
    return (*outputs, seen)


# --------------------------------------------------------------------------------- Evaluate
def evaluate_model(model: str | None, progress: gr.Progress = gr.Progress()) -> tuple:
    """Test accuracy and loss, confusion matrix, per-class table and misclassified digits (API `evaluate`)."""
    progress(0.1, desc="loading the test set and the model")
    try:
        info = REGISTRY.info(model)
        data = _data()
        progress(0.3, desc="evaluating 10,000 test digits")
        result = REGISTRY.evaluation(info.name, data)
    except CheckpointError as exc:
        raise _user_error(exc) from None
    errors = len(result.misclassified)
    summary = (
        f"**{info.name}** ({info.config.model}): test accuracy **{result.accuracy:.2%}**, "
        f"loss {result.loss:.4f}, {errors} of {len(result.predicted):,} test digits misclassified"
        f"{f' (first {MISCLASSIFIED_SHOWN} shown below)' if errors > MISCLASSIFIED_SHOWN else ''}."
    )
    gallery = [
        (
            charts.enlarge(data.test_images[i].numpy(), 84),
            f"true {int(data.test_labels[i])} → {result.predicted[i]}",
        )
        for i in result.misclassified[:MISCLASSIFIED_SHOWN]
    ]
    table = charts.per_class_table(result.precision, result.recall, result.confusion)
    return summary, charts.confusion_figure(result.confusion), table, gallery


# ------------------------------------------------------------------------------------- Data
def data_samples(mode: str) -> list[tuple]:
    """A grid of labelled MNIST training digits: the first 30, or 3 random ones of each class."""
    data = _data()
    labels = data.train_labels
    indices = list(range(SAMPLES_SHOWN)) if mode.startswith("first") else charts.per_class_indices(labels, 3)
    return [(charts.enlarge(data.train_images[i].numpy(), 84), f"#{i}: label {int(labels[i])}") for i in indices]


# ------------------------------------------------------------------------------------- Runs
def runs_table() -> tuple:
    """All runs (API `runs`), plus a note about files that could not be read."""
    listing = REGISTRY.listing()
    problems = "".join(f"\n- `{name}`: {reason}" for name, reason in listing.problems)
    # The folder is not named: its server path is no business of a visitor of a public Space.
    note = f"Unreadable files in the checkpoint folder (ignored):{problems}" if problems else ""
    return listing.dataframe(), note


def choose_run(evt: gr.SelectData) -> tuple:
    """Clicking a row of the runs table makes that run the active model."""
    row = evt.row_value or []
    name = str(row[0]) if row else None
    if name not in REGISTRY.names():
        return gr.skip(), "Select a row of the table to make its model active."
    return gr.Dropdown(value=name), f"Active model: **{name}** (used by Draw and Evaluate)."


# ------------------------------------------------------------------------------------ Layout
# The sketchpad starts, and restarts after "clear", with no tool selected ("select the draw tool to
# start"): whenever no tool is highlighted, select the brush for the user so they can just draw.
SELECT_BRUSH_JS = """() => {
  const pick = (pad) => {
    if (pad.querySelector('button.highlight')) return;
    const brush = pad.querySelector('button[aria-label="Brush"]') || pad.querySelector('button.quite-round');
    if (brush) brush.click();
  };
  const watch = () => {
    const pad = document.querySelector('#sketchpad');
    if (!pad) return setTimeout(watch, 200);
    new MutationObserver(() => pick(pad)).observe(pad, {subtree: true, childList: true, attributes: true, attributeFilter: ['class']});
    pick(pad);
  };
  watch();
}"""
PREDICT_EVENTS = dict(concurrency_id="predict", concurrency_limit=2, show_progress="hidden")


def build_demo() -> gr.Blocks:
    """The Blocks app: six tabs wired to the handlers above."""
    names = REGISTRY.names()
    # delete_cache: drop the images a long-running server writes for each prediction after an hour.
    with gr.Blocks(title="MNIST digit recognition", analytics_enabled=False, delete_cache=(3600, 3600)) as demo:
        gr.Markdown("# MNIST digit recognition\nDraw a digit, train your own network, and see how it learns.")
        model = gr.Dropdown(
            names,
            value=names[0] if names else None,
            label="Model",
            info="the bundled default or any run trained here (used by Draw and Evaluate); new runs appear by themselves",
            allow_custom_value=True,  # the API may name a run trained after the page was built; resolve() checks it
            elem_id="model-picker",
        )

        with gr.Tabs():
            with gr.Tab("Draw", id="draw"):
                with gr.Row():
                    with gr.Column(scale=1, min_width=340):
                        sketch = gr.Sketchpad(
                            label="Draw one digit (0-9), large and centred",
                            canvas_size=(336, 336),
                            height=430,
                            fixed_canvas=True,
                            # default_size is the radius in canvas pixels: a 24 px stroke, like a thick pen
                            brush=gr.Brush(default_size=12, colors=["#000000"], color_mode="fixed"),
                            eraser=gr.Eraser(default_size=30),
                            layers=False,
                            transforms=(),
                            type="numpy",
                            image_mode="RGBA",
                            format="png",
                            buttons=[],
                            elem_id="sketchpad",
                        )
                        with gr.Row():
                            predict_btn = gr.Button("Predict", variant="primary")
                            random_btn = gr.Button("Random test digit")
                        upload = gr.Image(
                            label="...or upload a photo or image of a digit",
                            type="filepath",
                            image_mode=None,
                            sources=["upload", "clipboard"],
                            height=220,
                            elem_id="upload",
                        )
                    with gr.Column(scale=1, min_width=320):
                        label = gr.Label(num_top_classes=3, label="Prediction (top 3)", elem_id="prediction")
                        info = gr.Markdown(
                            "Draw a digit: the prediction updates as you draw.",
                            label="prediction text",
                            show_label=False,
                            elem_id="predict-info",
                        )
                        seen28 = gr.Image(
                            label="What the model sees (28x28, enlarged)",
                            height=190,
                            interactive=False,
                            format="png",
                            elem_id="seen28",
                        )
                        probs = gr.Plot(label="Probabilities", elem_id="probs")
                outs = [label, probs, seen28, info]
                sketch.change(predict_sketch, [sketch, model], outs, api_visibility="private", **PREDICT_EVENTS)
                predict_btn.click(predict_sketch, [sketch, model], outs, api_visibility="private", **PREDICT_EVENTS)
                # preprocess=False: gr.Image would decode the file with PIL first and answer a text file
                # named .png or a decompression bomb with a bare "Error"; mnist_core explains instead.
                upload.upload(
                    predict_upload, [upload, model], outs, api_visibility="private", preprocess=False, **PREDICT_EVENTS
                )
                # API `predict`: a plain file input, so that a file that is not an image reaches
                # mnist_core.preprocess and gets its readable error instead of failing in Gradio's decoder.
                api_image = gr.File(visible=False, label="image")
                api_predict = gr.Button(visible=False)
                api_predict.click(predict_upload, [api_image, model], outs, api_name="predict", **PREDICT_EVENTS)
                random_btn.click(random_test_digit, model, [upload, *outs], api_name="random_digit", **PREDICT_EVENTS)

            with gr.Tab("Train", id="train"):
                gr.Markdown(
                    "Every hyperparameter of `TrainConfig`. Training runs in the background: other tabs keep "
                    f"working. One run at a time on this server. {JOBS.caps.describe()}"
                )
                with gr.Row():
                    start_btn = gr.Button(
                        "Start training",
                        variant="primary",
                        interactive=not JOBS.caps.training_disabled,
                        elem_id="start",
                    )
                    stop_btn = gr.Button("Stop", variant="stop", elem_id="stop")
                progress = gr.HTML(progress_html(JOBS.snapshot()), js_on_load=None, elem_id="progress")
                status = gr.Markdown(JOBS.snapshot().message, label="status", show_label=False, elem_id="train-status")
                with gr.Column(elem_id="hyperparameters"):
                    widgets = hyperparameter_widgets()
                # preprocess=False: raw values (from the page or an API client) go straight to
                # TrainConfig.from_dict, whose messages name the field and its allowed range.
                start_btn.click(
                    start_training, inputs_kwargs=widgets, outputs=status, api_name="train", preprocess=False
                )
                stop_btn.click(stop_training, None, status, api_name="stop")
                status_api = gr.JSON(visible=False, label="status")
                status_btn = gr.Button(visible=False)
                status_btn.click(training_status, None, status_api, api_name="status")

            with gr.Tab("Curves", id="curves"):
                overlay = gr.Dropdown(
                    names,
                    value=[],
                    multiselect=True,
                    allow_custom_value=True,
                    label="Compare with past runs",
                    info="the live run is always shown; add finished runs to overlay their curves",
                )
                step_plot = gr.Plot(label="Loss per step", elem_id="step-plot")
                with gr.Row():
                    loss_plot = gr.Plot(label="Loss per epoch")
                    acc_plot = gr.Plot(label="Accuracy per epoch")
                curves = [step_plot, loss_plot, acc_plot]
                overlay.change(curve_figures, overlay, curves, api_visibility="private")

            with gr.Tab("Evaluate", id="evaluate") as eval_tab:
                eval_btn = gr.Button("Evaluate the selected model on the test set", variant="primary")
                summary = gr.Markdown(
                    "Pick a model above, then evaluate it on the 10,000 test digits.", label="summary", show_label=False
                )
                with gr.Row():
                    confusion = gr.Plot(label="Confusion matrix", elem_id="confusion", scale=3)
                    per_class = gr.Dataframe(label="Per-class precision and recall", interactive=False, scale=2)
                wrong = gr.Gallery(
                    label=f"Misclassified test digits (first {MISCLASSIFIED_SHOWN}): true → predicted",
                    columns=10,
                    height="auto",
                    object_fit="contain",
                    format="png",
                )
                eval_outs = [summary, confusion, per_class, wrong]
                one_at_a_time = dict(concurrency_id="evaluate", concurrency_limit=1)
                eval_btn.click(evaluate_model, model, eval_outs, api_name="evaluate", **one_at_a_time)
                eval_tab.select(evaluate_model, model, eval_outs, api_visibility="private", **one_at_a_time)

            with gr.Tab("Data", id="data") as data_tab:
                mode = gr.Radio(
                    ["first 30 training digits", "3 random digits of each class"],
                    value="first 30 training digits",
                    label="Show",
                )
                samples = gr.Gallery(label="MNIST samples", columns=10, height="auto", format="png")
                mode.change(data_samples, mode, samples, api_visibility="private")
                data_tab.select(data_samples, mode, samples, api_visibility="private")

            with gr.Tab("Runs", id="runs") as runs_tab:
                gr.Markdown("Every trained model on this server. Click a row to make it the active model.")
                table = gr.Dataframe(
                    REGISTRY.dataframe(),
                    interactive=False,
                    wrap=False,
                    label="Runs (click a column header to sort)",
                    elem_id="runs-table",
                )
                runs_note = gr.Markdown(label="problems", show_label=False)
                refresh_runs = gr.Button("Refresh")
                refresh_runs.click(runs_table, None, [table, runs_note], api_name="runs")
                runs_tab.select(runs_table, None, [table, runs_note], api_visibility="private")
                table.select(choose_run, None, [model, runs_note], api_visibility="private")

        seen = gr.State({})
        timer = gr.Timer(1.0)
        poll_outs = [progress, status, *curves, model, overlay, table, seen]
        timer.tick(
            poll,
            [seen, overlay, model],
            poll_outs,
            api_visibility="private",
            show_progress="hidden",
            concurrency_limit=None,
        )
        model.change(predict_sketch, [sketch, model], outs, api_visibility="private", **PREDICT_EVENTS)
        demo.load(curve_figures, overlay, curves, api_visibility="private")
        demo.load(None, js=SELECT_BRUSH_JS)
    return demo


def _warm_up() -> None:
    """Load the default model, MNIST and the training process in the background, so first uses are quick."""
    try:
        JOBS.warm_up()
        REGISTRY.predictor(None)
        _data()
    except Exception as exc:  # noqa: BLE001 - warm-up is best effort; the handlers report real errors
        log.warning("warm-up skipped: %s", exc)


# Gradio's queue looks for work every 1 ms when idle (and for progress every 10 ms): ~900 wake-ups a
# second, 6% of a core with nobody on the page, each one pre-empting a training thread on a small
# machine. 10 ms / 50 ms cut that to ~130 wake-ups and 2% (benchmarks/RESULTS.md) and add at most
# 10 ms before an event starts. Private attributes: if a Gradio release renames them, this is a no-op
# (and tests/test_app_handlers.py says so).
QUEUE_IDLE_POLL_SECONDS = 0.01
QUEUE_PROGRESS_POLL_SECONDS = 0.05


def configure_queue(demo: gr.Blocks) -> gr.Blocks:
    """The app's queue: bounded, one event per function at a time, and a calm idle loop."""
    demo.queue(max_size=64, default_concurrency_limit=1)
    queue = getattr(demo, "_queue", None)
    if hasattr(queue, "sleep_when_free") and hasattr(queue, "progress_update_sleep_when_free"):
        queue.sleep_when_free = QUEUE_IDLE_POLL_SECONDS
        queue.progress_update_sleep_when_free = QUEUE_PROGRESS_POLL_SECONDS
    return demo


def main(argv: list[str] | None = None) -> None:
    """Parse --host/--port/--share and serve the app."""
    parser = argparse.ArgumentParser(description="MNIST digit recognition demo (Gradio)")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"), help="interface to bind")
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)), help="port")
    parser.add_argument("--share", action="store_true", help="create a public gradio.live link (needs internet)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    demo = configure_queue(build_demo())
    threading.Thread(target=_warm_up, name="warm-up", daemon=True).start()
    demo.launch(
        server_name=args.host,
        server_port=args.port,
        share=args.share,
        ssr_mode=False,
        show_error=False,
        max_file_size=MAX_UPLOAD,
    )


if __name__ == "__main__":
    main()
