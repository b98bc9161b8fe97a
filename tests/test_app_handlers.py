"""The app's server side without a browser: run registry, training jobs, charts and app.py's handlers."""

from __future__ import annotations

import base64
import copy
import io
import re
import threading
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from PIL import Image, ImageDraw

import app as app_module
from mnist_core.app import charts
from mnist_core.app.jobs import Caps, InThread, JobBusyError, JobError, JobManager, JobState
from mnist_core.app.registry import DEFAULT_NAME, RunRegistry, UnknownRunError
from mnist_core.app.tabs.draw import NO_DIGIT
from mnist_core.app.tabs.evaluate import MISCLASSIFIED_SHOWN
from mnist_core.app.widgets import hyperparameter_widgets
from mnist_core.checkpoint import save_checkpoint
from mnist_core.config import TrainConfig, fields
from mnist_core.models import build_model
from tests.support.drawings import ONE, SEVEN, drawing
from tests.support.fixtures import TINY, fake_checkpoint


def wait_done(jobs: JobManager, timeout: float = 300) -> None:
    assert jobs.wait(timeout), "the training thread did not finish in time"


@pytest.fixture
def ckpt_dir(tmp_path: Path, monkeypatch) -> Path:
    folder = tmp_path / "runs"
    folder.mkdir()
    monkeypatch.setenv("MNIST_CHECKPOINT_DIR", str(folder))
    return folder


@pytest.fixture(scope="module")
def trained(mnist, tmp_path_factory) -> tuple[Path, JobManager]:
    """One tiny run through the JobManager, shared by the tests that need a trained checkpoint."""
    folder = tmp_path_factory.mktemp("trained")
    jobs = JobManager(caps=Caps(), directory=lambda: folder, runner=InThread(lambda: mnist))
    jobs.start(TrainConfig(**TINY))
    wait_done(jobs)
    return folder, jobs


# --------------------------------------------------------------------------------------- jobs
def test_a_job_trains_saves_and_appears_in_the_runs(trained):
    folder, jobs = trained
    state = jobs.snapshot()
    assert state.status == "done", state.message
    assert state.progress == 1.0 and state.epoch == 1 and state.error == ""
    assert re.fullmatch(r"mlp-\d{8}-\d{6}(-\d+)?", state.name)
    assert Path(state.checkpoint) == folder / f"{state.name}.pt" and Path(state.checkpoint).is_file()
    assert len(state.steps_history) >= 10 and len(state.epochs_history) == 1
    assert {"train_loss", "val_loss", "train_acc", "val_acc"} <= set(state.epochs_history[0])
    assert 0.5 < state.metrics["test_accuracy"] <= 1.0
    assert "test accuracy" in state.message

    registry = RunRegistry(directory=folder, bundled=None)
    assert registry.names() == [state.name]
    info = registry.info(state.name)
    assert info.status == "done" and info.config.train_size == 2000
    table = registry.dataframe()
    assert table.loc[0, "name"] == state.name and table.loc[0, "test accuracy"] == pytest.approx(
        state.metrics["test_accuracy"], abs=1e-4
    )


def test_a_second_start_is_refused_while_a_run_is_in_progress(mnist, tmp_path):
    release = threading.Event()

    def slow_loader():
        release.wait(60)  # hold the first run in its loading phase
        return mnist

    jobs = JobManager(caps=Caps(), directory=lambda: tmp_path, runner=InThread(slow_loader))
    first = jobs.start(TrainConfig(**TINY))
    assert first.active
    with pytest.raises(JobBusyError, match=r"(?i)a run is in progress \(epoch 1/1"):
        jobs.start(TrainConfig(**TINY))
    stopping = jobs.stop()
    assert stopping.status == "stopping"
    release.set()
    wait_done(jobs)
    final = jobs.snapshot()
    assert final.status == "stopped" and "nothing saved" in final.message
    assert not list(tmp_path.glob("*.pt"))
    jobs.start(TrainConfig(**{**TINY, "train_size": 500, "val_size": 100}))  # free again
    wait_done(jobs)
    assert jobs.snapshot().status == "done"


def test_a_run_whose_runner_returns_late_leaves_the_next_run_alone(mnist, tmp_path):
    """The training process reports 'finished' just after the run's last event: a next run may start in between."""

    class LateRunner(InThread):
        def __init__(self) -> None:
            super().__init__(lambda: mnist)
            self.release = threading.Event()
            self.calls = 0

        def run(self, *args) -> None:
            self.calls += 1
            super().run(*args)
            if self.calls == 1:
                self.release.wait(60)  # the first run's thread lingers after its 'end' event

    runner = LateRunner()
    jobs = JobManager(caps=Caps(), directory=lambda: tmp_path, runner=runner)
    jobs.start(TrainConfig(**TINY))
    assert jobs.wait_for(lambda s: s.status == "done", 300)
    first_thread = jobs._thread
    second = jobs.start(TrainConfig(**{**TINY, "seed": 1}))
    runner.release.set()
    first_thread.join(60)
    assert jobs.snapshot().run_id == second.run_id and jobs.snapshot().status != "failed"
    wait_done(jobs)
    assert jobs.snapshot().status == "done"


def test_errors_in_the_thread_are_reported_not_lost(tmp_path):
    def broken_loader():
        raise OSError("disk on fire")

    jobs = JobManager(caps=Caps(), directory=lambda: tmp_path, runner=InThread(broken_loader))
    jobs.start(TrainConfig(**TINY))
    wait_done(jobs)
    state = jobs.snapshot()
    assert state.status == "failed" and "disk on fire" in state.error and "disk on fire" in state.message
    assert not jobs.busy()


def test_a_batch_larger_than_the_subset_is_refused_at_start(mnist, tmp_path):
    jobs = JobManager(caps=Caps(), directory=lambda: tmp_path, runner=InThread(lambda: mnist))
    with pytest.raises(ValueError, match=r"batch_size: 256 is larger than the training set \(100 images\)"):
        jobs.start(TrainConfig(**{**TINY, "train_size": 100, "batch_size": 256}))
    assert not jobs.busy() and jobs.snapshot().status == "idle"


def test_caps_come_from_the_environment_and_are_enforced():
    caps = Caps.from_env({"MNIST_MAX_EPOCHS": "3", "MNIST_MAX_TRAIN_SECONDS": "60", "MNIST_TRAINING_DISABLED": ""})
    assert caps == Caps(False, 3, 60.0)
    assert "at most 3 epoch" in caps.describe() and "60 s" in caps.describe()
    with pytest.raises(JobError, match="epochs: 4 is above this server's limit of 3"):
        caps.check(TrainConfig(epochs=4))
    caps.check(TrainConfig(epochs=3))
    off = Caps.from_env({"MNIST_TRAINING_DISABLED": "1"})
    assert off.training_disabled and "disabled" in off.describe()
    with pytest.raises(JobError, match="disabled"):
        JobManager(caps=off).start(TrainConfig(**TINY))
    assert Caps.from_env({"MNIST_MAX_EPOCHS": "lots", "MNIST_MAX_TRAIN_SECONDS": "-5"}) == Caps()


def test_a_run_over_the_time_limit_is_stopped(mnist, tmp_path):
    jobs = JobManager(caps=Caps(max_train_seconds=0.01), directory=lambda: tmp_path, runner=InThread(lambda: mnist))
    jobs.start(TrainConfig(**{**TINY, "epochs": 3}))
    wait_done(jobs)
    state = jobs.snapshot()
    assert state.status == "stopped" and state.timed_out and "time limit" in state.message
    assert state.epoch < 3


# --------------------------------------------------------------------------------------- runs
def test_registry_lists_checkpoints_and_reports_bad_files(ckpt_dir, tmp_path):
    bundled = fake_checkpoint(tmp_path / "bundled.pt")
    fake_checkpoint(ckpt_dir / "cnn-20240101-000000.pt", model="cnn")
    (ckpt_dir / ".cnn-20240101-000000.pt.abc.tmp").write_bytes(b"half written")
    (ckpt_dir / "garbage.pt").write_bytes(b"not a checkpoint")
    (ckpt_dir / "notes.txt").write_text("ignored")

    registry = RunRegistry(bundled=bundled)
    listing = registry.listing()
    assert listing.names == [DEFAULT_NAME, "cnn-20240101-000000"]
    assert [name for name, _ in listing.problems] == ["garbage.pt"]
    assert "not a readable checkpoint" in listing.problems[0][1]
    assert registry.resolve(DEFAULT_NAME) == bundled
    assert registry.resolve(None) == bundled  # no choice: the first (bundled) model
    assert registry.info("cnn-20240101-000000").config.model == "cnn"
    table = registry.dataframe()
    assert list(table["name"]) == listing.names and table.loc[1, "model"] == "cnn"


@pytest.mark.parametrize(
    "name", ["../../etc/passwd", "/etc/passwd", "garbage", "garbage.pt", "cnn-20240101-000000.pt", "..", ""]
)
def test_registry_never_resolves_a_name_outside_its_list(ckpt_dir, name):
    fake_checkpoint(ckpt_dir / "cnn-20240101-000000.pt")
    (ckpt_dir / "garbage.pt").write_bytes(b"x")
    registry = RunRegistry(bundled=None)
    if name == "":
        assert registry.resolve(name) == ckpt_dir / "cnn-20240101-000000.pt"  # empty: the default choice
        return
    with pytest.raises(UnknownRunError, match="unknown model"):
        registry.resolve(name)


def test_registry_without_any_model_says_so(ckpt_dir):
    with pytest.raises(UnknownRunError, match="no trained model"):
        RunRegistry(bundled=None).resolve(None)


def test_registry_rereads_a_rewritten_checkpoint(ckpt_dir):
    path = fake_checkpoint(ckpt_dir / "run.pt", metrics={"epochs_completed": 1, "train_seconds": 1.0})
    registry = RunRegistry(bundled=None)
    assert registry.info("run").status == "partial"  # no test accuracy yet
    cfg = TrainConfig(**TINY)
    save_checkpoint(path, build_model(cfg), cfg, {"steps": [], "epochs": []}, {"test_accuracy": 0.9}, stopped=True)
    assert registry.info("run").status == "stopped"


# ------------------------------------------------------------------------------------- charts
def test_curve_charts_overlay_runs():
    a = charts.Series("a", [{"step": 1, "epoch": 0.5, "loss": 2.0}, {"step": 2, "epoch": 1.0, "loss": 1.0}])
    a.epochs = [{"epoch": 1, "train_loss": 1.0, "val_loss": 1.2, "train_acc": 0.8, "val_acc": 0.75}]
    b = charts.Series("b", [], [{"epoch": 1, "train_loss": 0.5, "train_acc": 0.9}])
    steps = charts.step_loss_figure([a, b])
    assert len(steps.data) == 1 and list(steps.data[0].y) == [2.0, 1.0] and list(steps.data[0].x) == [0.5, 1.0]
    assert steps.layout.xaxis.title.text and steps.layout.yaxis.title.text
    loss = charts.epoch_loss_figure([a, b])
    # One legend entry per run (its validation line shares the group); the subtitle says which line is which.
    assert [t.name for t in loss.data] == ["a", "a · validation", "b"]
    assert [t.showlegend for t in loss.data] == [True, False, True] and loss.data[0].legendgroup == loss.data[
        1
    ].legendgroup
    assert "dashed: validation" in loss.layout.title.subtitle.text
    assert loss.data[0].line.color == loss.data[1].line.color != loss.data[2].line.color
    assert loss.layout.yaxis.type == "log" and steps.layout.yaxis.type == "log"
    assert steps.layout.xaxis.title.text == "epoch" and loss.layout.legend.y == 0  # the legend below the axis
    acc = charts.epoch_accuracy_figure([a, b])
    assert list(acc.data[1].y) == [0.75] and acc.layout.yaxis.range[0] <= 0.75 and acc.layout.yaxis.range[1] >= 1.0
    empty = charts.step_loss_figure([])
    assert not empty.data and "No steps yet" in empty.layout.annotations[0].text


def test_label_smoothing_is_said_on_the_loss_charts():
    """Training loss with smoothing 0.1 cannot fall below ~0.50 while validation loss (plain labels) goes to ~0.1:
    the charts draw that floor and say why, so the gap does not read as a bug."""
    assert charts.smoothing_floor(0.1) == pytest.approx(0.500, abs=1e-3) and charts.smoothing_floor(0) == 0
    steps = [{"step": 1, "epoch": 0.5, "loss": 0.9}, {"step": 2, "epoch": 1.0, "loss": 0.55}]
    epochs = [{"epoch": 1, "train_loss": 0.56, "val_loss": 0.12}]
    smoothed = charts.Series("s", steps, epochs, label_smoothing=0.1)
    for fig in (charts.step_loss_figure([smoothed]), charts.epoch_loss_figure([smoothed])):
        assert "label smoothing 0.1" in fig.layout.title.subtitle.text and "0.50" in fig.layout.title.subtitle.text
        assert [round(shape.y0, 3) for shape in fig.layout.shapes] == [0.5]
    plain = charts.step_loss_figure([charts.Series("p", steps, epochs)])
    assert not plain.layout.shapes and not (plain.layout.title.subtitle and plain.layout.title.subtitle.text)


def test_charts_are_transparent_so_they_follow_the_page_theme():
    for fig in (charts.step_loss_figure([]), charts.confusion_figure(np.eye(10, dtype=int).tolist())):
        template = fig.layout.template.layout
        assert template.paper_bgcolor == template.plot_bgcolor == charts.CLEAR
    assert ".dark .js-plotly-plot" in charts.CHART_CSS


def test_probability_and_confusion_charts():
    probs = [0.01] * 10
    probs[7] = 0.91
    fig = charts.probability_figure(probs, true_label=1)
    assert list(fig.data[0].x) == [str(d) for d in range(10)] and list(fig.data[0].y) == probs
    assert fig.data[0].marker.color[7] != fig.data[0].marker.color[3]
    assert "no digit" in charts.probability_figure(None).layout.annotations[0].text
    confusion = np.diag([980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]).tolist()
    confusion[4][9] = 7
    fig = charts.confusion_figure(confusion)
    heat = fig.data[0]
    assert heat.customdata[4][9] == 7 and heat.text[4][9] == "7" and heat.text[4][8] == ""
    assert fig.layout.xaxis.title.text == "predicted digit" and fig.layout.yaxis.title.text == "true digit"


def test_per_class_table():
    confusion = np.eye(10, dtype=int) * 10
    confusion[3][5] = 10
    table = charts.per_class_table([1.0] * 10, [1.0] * 3 + [0.5] + [1.0] * 6, confusion.tolist())
    assert list(table.columns) == ["digit", "precision", "recall", "f1", "support", "errors"]
    assert table.loc[3, "recall"] == 0.5 and table.loc[3, "support"] == 20 and table.loc[3, "errors"] == 10
    assert table.loc[3, "f1"] == pytest.approx(2 / 3, abs=1e-4)


def test_enlarge_and_per_class_picks():
    big = charts.enlarge(np.eye(28, dtype=np.float32), 168)
    assert big.shape == (168, 168) and big.dtype == np.uint8 and big[0, 5] == 255 and big[0, 6] == 0
    labels = np.repeat(np.arange(10), 7)
    picked = charts.per_class_indices(labels, 3, seed=0)
    assert [int(labels[i]) for i in picked] == [d for d in range(10) for _ in range(3)]


# ------------------------------------------------------------------------------ app handlers
def pad_request(array: np.ndarray, model: str | None = None) -> dict:
    """What the Draw tab's canvas sends its server function: the drawing as a PNG data URL, and the model."""
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return {"image": "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode(), "model": model}


def canvas(strokes_by_digit, width: int = 600, height: int = 300, pen: int = 22) -> np.ndarray:
    """A white canvas like the pad's, each digit's strokes (fractions of the height) centred at x = cx * width."""
    image = Image.new("RGB", (width, height), "white")
    pen_draw = ImageDraw.Draw(image)
    for cx, strokes in strokes_by_digit:
        points = [(cx * width + (x - 0.5) * height, y * height) for x, y in strokes]
        pen_draw.line(points, fill="black", width=pen, joint="curve")
    return np.asarray(image)


def test_the_pad_reads_digits_and_numbers(lab):
    for strokes, number in (([(0.5, ONE)], "1"), ([(0.5, SEVEN)], "7"), ([(0.3, SEVEN), (0.7, ONE)], "71")):
        answer = lab.draw.read_drawing(pad_request(canvas(strokes)))
        assert answer["number"] == number, answer
        assert answer["size"] == [600, 300] and answer["server_ms"] >= 0 and "error" not in answer
        boxes = [d["box"] for d in answer["digits"]]
        assert boxes == sorted(boxes) and all(0 <= b[0] < b[2] <= 600 and 0 <= b[1] < b[3] <= 300 for b in boxes)
        for d in answer["digits"]:
            top = d["top3"]
            assert top[0][0] == d["digit"] and len(top) == 3 and top[0][1] >= top[1][1] >= top[2][1]
        html = answer["html"]
        assert f'data-number="{number}"' in html and html.count('class="digit-card"') == len(number)
        assert html.count('class="seen"') == len(number)  # each digit's 28x28 view, inline


def test_the_pad_reads_an_empty_canvas_as_no_digit(lab):
    blank = np.full((300, 600, 3), 255, np.uint8)
    transparent = np.zeros((300, 600, 4), np.uint8)  # a client sending a transparent canvas: paper, not ink
    for array in (blank, transparent):
        answer = lab.draw.read_drawing(pad_request(array))
        assert answer["number"] is None and answer["digits"] == [] and NO_DIGIT in answer["html"]


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (None, "PNG data URL"),
        ({"image": "data:image/jpeg;base64,AAAA"}, "PNG data URL"),
        ({"image": "data:image/png;base64,not base64!"}, "not a readable PNG"),
        ({"image": "data:image/png;base64," + base64.b64encode(b"GIF89a...").decode()}, "not a readable PNG"),
        ({"image": "data:image/png;base64," + "A" * 5_000_000}, "too large"),
        ("model", "unknown model"),
    ],
)
def test_bad_pad_requests_get_a_message_and_the_pad_keeps_working(lab, request_, message):
    if request_ == "model":
        request_ = pad_request(canvas([(0.5, SEVEN)]), model="../../etc/passwd")
    answer = lab.draw.read_drawing(request_)
    assert message in answer["error"] and "Cannot read the drawing" in answer["html"]
    assert lab.draw.read_drawing(pad_request(canvas([(0.5, SEVEN)])))["number"] == "7"


def test_uploads_and_the_api_read_files(lab, tmp_path):
    path = tmp_path / "seventy-one.png"
    Image.fromarray(canvas([(0.3, SEVEN), (0.7, ONE)])).save(path)
    html = lab.draw.show_upload(str(path), DEFAULT_NAME)
    assert 'data-number="71"' in html and html.count('class="box"') == 2 and 'class="marked"' in html
    found = lab.draw.read_number({"path": str(path), "orig_name": "71.png"}, None)
    assert (
        found["number"] == "71"
        and [set(d) for d in found["digits"]] == [{"kind", "digit", "closest", "confidence", "box", "top3"}] * 2
    )
    assert lab.draw.read_number(None, None) == {"kind": "no digit", "number": None, "digits": []}
    Image.fromarray(drawing(SEVEN)).save(path)
    label, fig, seen, info = lab.draw.predict_upload(str(path), DEFAULT_NAME)  # API `predict`: one digit
    assert max(label, key=label.get) == "7" and Image.open(seen).size == (168, 168) and len(fig.data[0].y) == 10
    assert lab.draw.predict_upload(None, None)[0] == NO_DIGIT
    assert 'data-number=""' in lab.draw.show_upload(None, None)


def test_the_page_shows_the_one_reading_of_the_library(lab, monkeypatch):
    """The answer, its top 3 and its 28x28 views come from one forward pass: the top 3 agrees with the digit."""
    model = lab.ctx.registry.predictor(None).model
    passes = []
    forward = model.forward
    monkeypatch.setattr(model, "forward", lambda x: passes.append(len(x)) or forward(x))
    answer = lab.draw.read_drawing(pad_request(canvas([(0.3, SEVEN), (0.7, ONE)])))
    assert answer["number"] == "71" and passes == [2]  # both digits in one batch, no second pass
    cards = re.findall(r'data-digit="(\d)".*?class="conf">([\d.]+)%.*?class="d">(\d)</span>', answer["html"])
    assert len(cards) == 2
    for d, (digit, conf, first) in zip(answer["digits"], cards):
        assert d["top3"][0] == [d["digit"], d["confidence"]] and first == digit == str(d["digit"])
        assert float(conf) == round(100 * d["confidence"], 1)


def test_a_6000_px_upload_is_read_and_boxed_in_its_own_pixels(lab, tmp_path):
    """Over 4096 px the library reads a downscaled copy; the API's boxes and the page's marks are in the file's pixels."""
    image = canvas([(0.3, SEVEN), (0.7, ONE)], width=6000, height=1500, pen=110)
    path = tmp_path / "wide.png"
    Image.fromarray(image).save(path)
    found = lab.draw.read_number(str(path), None)
    assert found["number"] == "71"
    ink = image.min(axis=2) < 128
    for d, (lo, hi) in zip(found["digits"], ((0, 3000), (3000, 6000))):
        rows, cols = np.flatnonzero(ink[:, lo:hi].any(axis=1)), lo + np.flatnonzero(ink[:, lo:hi].any(axis=0))
        x0, y0, x1, y1 = d["box"]
        assert x0 <= cols[0] and y0 <= rows[0] and x1 > cols[-1] and y1 > rows[-1], (d["box"], cols[0], rows[0])
        assert max(cols[0] - x0, rows[0] - y0, x1 - 1 - cols[-1], y1 - 1 - rows[-1]) <= 4  # and hugs the ink
        assert d["top3"][0] == [d["digit"], d["confidence"]]
    html = lab.draw.show_upload(str(path), None)
    marks = re.findall(r'class="box" style="left:([\d.]+)%;top:([\d.]+)%;width:([\d.]+)%', html)
    assert [(float(left), float(width)) for left, _, width in marks] == [
        pytest.approx((100 * d["box"][0] / 6000, 100 * (d["box"][2] - d["box"][0]) / 6000), abs=0.05)
        for d in found["digits"]
    ]


def test_bad_model_names_and_images_give_readable_errors(lab, tmp_path):
    with pytest.raises(gr.Error, match="unknown model '../../etc/passwd'"):
        lab.draw.predict_upload(str(tmp_path / "x.png"), "../../etc/passwd")
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"definitely not a PNG")
    with pytest.raises(gr.Error, match="bad.png is not an image") as refused:
        lab.draw.predict_upload(str(bad), None)
    assert str(tmp_path) not in str(refused.value.message)  # no server paths in messages


def test_random_test_digit_shows_the_true_label(lab):
    html = lab.draw.random_test_digit(None)
    true = re.search(r"true label (\d) \((correct|wrong)\)", html)
    assert true and 'class="marked"' in html and 'class="digit-card"' in html
    assert (true[2] == "correct") == (f'data-number="{true[1]}"' in html)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"epochs": "lots"}, "epochs: 'lots' is not a valid int"),
        ({"lr": 50}, "lr: 50.0 is outside the allowed range"),
        ({"model": "resnet"}, "model: 'resnet' is not one of"),
        ({"hidden_sizes": "100000"}, "hidden_sizes"),
        ({"bogus": 1}, "unknown hyperparameter"),
    ],
)
def test_start_training_validates_like_the_config(lab, values, message):
    with pytest.raises(gr.Error, match=re.escape(message)):
        lab.train.start_training(**values)
    assert not lab.ctx.jobs.busy()


def test_start_stop_status_and_poll(lab):
    assert "No run in progress" in lab.train.stop_training()
    started = lab.train.start_training(**{**TINY, "epochs": 1})
    assert started.startswith("Started run")
    with pytest.raises(gr.Error, match="(?i)a run is in progress"):
        lab.train.start_training(**TINY)
    wait_done(lab.ctx.jobs)
    status = lab.train.training_status()
    assert status["status"] == "done" and status["metrics"]["test_accuracy"] > 0.5

    outputs = lab.curves.poll({}, [], DEFAULT_NAME)
    progress, message, steps, loss, acc, model, overlay, table, stop, seen = outputs
    assert stop.constructor_args["interactive"] is False  # nothing of yours running or queued: greyed out
    assert 'data-status="done"' in progress and "finished" in message
    assert len(steps.data) == 1 and len(loss.data) == 2
    assert status["run"] in model.choices[-1]
    assert "value" not in model.constructor_args  # the picker keeps whatever the visitor picked meanwhile
    assert list(table.data["name"]) == [status["run"], DEFAULT_NAME]  # the caller's own run first (issue 20)
    assert list(table.data["yours"]) == ["yes", ""]
    shown = gr.Dataframe(interactive=False).postprocess(table)  # as the page gets it
    columns = shown.headers.index("test accuracy"), shown.headers.index("test loss")
    seconds = shown.headers.index("train time (s)")
    for row in shown.metadata["display_value"]:  # 0.9610 beside 0.9588, never 0.961
        assert all(len(row[c]) == 6 and row[c][1] == "." for c in columns), row
        assert len(row[seconds].partition(".")[2]) <= 1, row  # 232.4 s, never 232.400000
    again = lab.curves.poll(seen, [], DEFAULT_NAME)
    assert all(o == gr.skip() for o in again[:-1])  # nothing changed: nothing sent
    gone = lab.curves.poll({}, [], "a-deleted-run")[5]
    assert gone.constructor_args["value"] == DEFAULT_NAME  # a picked run that is gone: back to the first


def test_poll_redraws_the_epoch_charts_only_when_an_epoch_completes(lab, monkeypatch):
    state = JobState(run_id=1, version=1, status="running", epochs=2, name="cnn-live")
    state.steps_history.append({"step": 10, "epoch": 0.1, "loss": 2.0})

    class Jobs:  # the live run as the poller sees it, changed by hand between ticks
        def snapshot(self) -> JobState:
            return copy.deepcopy(state)

        def view(self, owner: str) -> JobState:
            return self.snapshot()

    monkeypatch.setattr(lab.ctx, "jobs", Jobs())
    first = lab.curves.poll({}, [], DEFAULT_NAME)
    assert len(first[2].data) == 1 and first[3] != gr.skip() and first[4] != gr.skip()
    state.version += 1
    state.steps_history.append({"step": 20, "epoch": 0.2, "loss": 1.5})
    second = lab.curves.poll(first[-1], [], DEFAULT_NAME)
    assert list(second[2].data[0].y) == [2.0, 1.5]  # the step chart moves...
    assert second[3] == gr.skip() and second[4] == gr.skip()  # ...the epoch charts are not resent
    state.version += 1
    state.epoch = 1
    state.epochs_history.append({"epoch": 1, "train_loss": 1.2, "train_acc": 0.6, "val_loss": 1.1, "val_acc": 0.7})
    third = lab.curves.poll(second[-1], [], DEFAULT_NAME)
    assert len(third[3].data) == 2 and list(third[4].data[1].y) == [0.7]  # train and validation, drawn anew


def test_evaluate_handler(lab, trained):
    folder, jobs = trained
    lab.ctx.registry = RunRegistry(directory=folder, bundled=None)
    name = jobs.snapshot().name
    summary, confusion, table, gallery = lab.evaluate.evaluate_model(name, progress=lambda *a, **k: None)
    assert name in summary and "test accuracy" in summary
    assert len(confusion.data[0].z) == 10 and list(table.data["digit"]) == list(range(10))
    shown = gr.Dataframe(interactive=False).postprocess(table)  # as the page gets it
    rates = [row[1:4] for row in shown.metadata["display_value"]]
    assert all(len(text) == 6 and text[1] == "." for row in rates for text in row), rates  # 0.9980, never 0.998
    assert 0 < len(gallery) <= MISCLASSIFIED_SHOWN and "true" in gallery[0][1]
    with pytest.raises(gr.Error, match="unknown model"):
        lab.evaluate.evaluate_model("../checkpoints/default", progress=lambda *a, **k: None)


def test_runs_and_data_handlers(lab):
    (lab.folder / "broken.pt").write_bytes(b"junk")
    table, note = lab.runs.runs_table()
    assert list(table.data["name"]) == [DEFAULT_NAME] and "broken.pt" in note
    first = lab.data.samples("first 30 training digits")
    assert len(first) == 30 and first[0][1] == "#0: label 5" and Image.open(first[0][0]).size == (84, 84)
    per_class = lab.data.samples("3 random digits of each class")
    assert [c.split("label ")[1] for _, c in per_class] == [str(d) for d in range(10) for _ in range(3)]


def test_widgets_come_from_the_config_metadata(lab):
    with gr.Blocks():
        widgets = hyperparameter_widgets(lab.ctx.jobs.caps)
    assert list(widgets) == [f.name for f in fields()]
    for f in fields():
        w, m = widgets[f.name], f.metadata
        assert w.value == f.default or (isinstance(w.value, float) and w.value == pytest.approx(f.default))
        if "choices" in m:
            assert [c[0] for c in w.choices] == list(m["choices"])
        elif "min" in m and m.get("kind") != "int_list":
            assert (w.minimum, w.maximum) == (m["min"], m["max"]), f.name


def test_the_epochs_slider_follows_the_server_cap(lab, monkeypatch):
    monkeypatch.setattr(lab.ctx, "jobs", JobManager(caps=Caps(max_epochs=3)))
    with gr.Blocks():
        widgets = hyperparameter_widgets(lab.ctx.jobs.caps)
    assert widgets["epochs"].maximum == 3
    assert widgets["lr"].minimum == 1e-5  # log-scale field: a Number with the metadata's bounds
    batch = widgets["batch_size"]  # a Number driven by a log2 slider: typed sizes need not be powers of two
    assert isinstance(batch, gr.Number) and (batch.minimum, batch.maximum, batch.precision) == (1, 8192, 0)


def test_curves_overlay_the_selected_past_runs(lab, trained):
    folder, jobs = trained
    lab.ctx.registry = RunRegistry(directory=folder, bundled=None)
    name = jobs.snapshot().name
    steps, loss, acc = lab.curves.curve_figures([name, "no-such-run"])
    assert [t.name for t in steps.data] == [name] and len(loss.data) == 2 and len(acc.data) == 2
    steps, loss, acc = lab.curves.curve_figures([])
    assert not steps.data and "No steps yet" in steps.layout.annotations[0].text


def test_demo_builds_with_the_api_names(lab):
    demo = app_module.build_demo(lab.ctx.jobs, lab.ctx.registry)
    names = {dep.get("api_name") for dep in demo.config["dependencies"] if dep.get("api_visibility") == "public"}
    assert {"predict", "train", "stop", "status", "evaluate", "runs"} <= names


def test_the_first_point_leaves_the_epoch_charts_to_the_next_tick(lab, monkeypatch):
    # Start's follow-up draws only the step chart (fewer figures on the way to the first point); the
    # next tick must still clear the last run's epoch charts, even if no new event came in between.
    state = JobState(run_id=2, version=7, status="running", epochs=2, name="cnn-live")
    state.steps_history.append({"step": 1, "epoch": 0.005, "loss": 2.3})

    class Jobs:
        def snapshot(self) -> JobState:
            return copy.deepcopy(state)

        def view(self, owner: str) -> JobState:
            return self.snapshot()

        def wait_for(self, condition, timeout=None):
            return self.snapshot() if condition(state) else None

    monkeypatch.setattr(lab.ctx, "jobs", Jobs())
    last_run = {"version": 6, "elapsed": 0, "epochs": [1, 3]}  # the page showed run 1's three epochs
    first = lab.curves.first_point(last_run, [], DEFAULT_NAME)
    assert list(first[2].data[0].y) == [2.3] and first[3] == gr.skip() and first[4] == gr.skip()
    tick = lab.curves.poll(first[-1], [], DEFAULT_NAME)  # same version: the step chart is not resent
    assert tick[2] == gr.skip() and "No completed epoch" in tick[3].layout.annotations[0].text
    assert lab.curves.poll(tick[-1], [], DEFAULT_NAME)[3] == gr.skip()  # and drawn once


def test_after_start_the_first_point_is_sent_as_soon_as_the_run_has_one(
    mnist, tmp_path, monkeypatch, default_checkpoint
):
    from tests.support.lab import Lab

    monkeypatch.setenv("MNIST_CHECKPOINT_DIR", str(tmp_path))
    release = threading.Event()

    def held_loader():
        release.wait(120)  # the run stays in its loading phase: no step yet
        return mnist

    lab = Lab(JobManager(caps=Caps(), runner=InThread(held_loader)), RunRegistry(bundled=default_checkpoint), tmp_path)
    lab.train.start_training(**{**TINY, "epochs": 1})
    answers = []
    waiting = threading.Thread(target=lambda: answers.append(lab.curves.first_point({}, [], DEFAULT_NAME)))
    waiting.start()
    waiting.join(0.5)
    assert waiting.is_alive() and not answers  # no step yet: it waits rather than answering an empty chart
    release.set()
    waiting.join(120)
    progress, message, steps, *_ = answers[0]
    assert len(steps.data) == 1 and len(steps.data[0].x) >= 1  # the new run's first point(s)
    assert lab.ctx.jobs.wait(300)
    ended = lab.curves.first_point({}, [], DEFAULT_NAME)  # no run active: answers at once, as a tick
    assert 'data-status="done"' in ended[0]


def test_explain_this_on_the_draw_tab_explains_the_drawing_on_the_inside_tab(lab):
    """The page wires Draw's "Explain this" to the Inside tab's handler: the pad's drawing (taken in the
    browser), then the Inside tab's outputs, its upload box and the tabs (it opens the Inside tab)."""
    demo = app_module.build_demo(lab.ctx.jobs, lab.ctx.registry)
    config = demo.config
    ids = {c["props"].get("elem_id"): c["id"] for c in config["components"] if c.get("props", {}).get("elem_id")}
    button = ids["explain-this"]
    [dep] = [d for d in config["dependencies"] if [button, "click"] in [list(t) for t in d["targets"]]]
    assert "drawPad?.image()" in dep["js"] and dep.get("api_visibility") != "public"
    assert {ids["inside-info"], ids["inside-map"], ids["inside-pick"], ids["inside-upload"]} <= set(dep["outputs"])
    tabs = [c["id"] for c in config["components"] if c["type"] == "tabs"]
    assert dep["outputs"][-1] in tabs
    fn = demo.fns[dep["id"]].fn
    assert getattr(fn, "__func__", None) is type(fn.__self__).explain_drawing
