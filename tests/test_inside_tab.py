"""The Inside tab's handlers (explain, why-not, blank, MLP, API `explain`) and "watch it learn" from a real run.

The bundled model's test-set map is built over a small slice of MNIST without a cache file, so the
tests take seconds and never write next to the bundled checkpoint.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import gradio as gr
import numpy as np
import plotly.graph_objects as go
import pytest
from PIL import Image

from mnist_core.app import charts
from mnist_core.app.jobs import Caps, JobManager
from mnist_core.app.runners import TrainingProcess
from mnist_core.app.tabs import inside
from mnist_core.config import TrainConfig
from mnist_core.data import MNISTTensors
from tests.support.fixtures import TINY


@pytest.fixture(scope="module")
def small(mnist) -> MNISTTensors:
    return MNISTTensors(
        mnist.train_images[:2000], mnist.train_labels[:2000], mnist.test_images[:500], mnist.test_labels[:500]
    )


@pytest.fixture
def no_warming(lab, monkeypatch) -> list:
    """Record the background map builds the tab asks for instead of building the full 70,000-digit index."""
    calls: list = []
    monkeypatch.setattr(lab.inside, "warm_index", lambda model: calls.append(model))
    return calls


def _picture(path: str | None) -> Image.Image:
    assert path and Path(path).exists(), path
    return Image.open(path)


def _named(out: tuple) -> dict:
    """An explaining handler's outputs by name (inside.OUTPUTS)."""
    assert len(out) == len(inside.OUTPUTS)
    return dict(zip(inside.OUTPUTS, out))


def _ink(image: np.ndarray) -> np.ndarray:
    """A test digit (white ink on black) as a photo: dark ink on white paper."""
    return 255 - np.asarray(image, dtype=np.uint8)


def _number_png(mnist, indices: list[int], folder: Path) -> tuple[str, str]:
    """A photo of a number written with test digits side by side, and the number their labels spell."""
    row = np.concatenate([np.pad(_ink(mnist.test_images[i].numpy()), 6, constant_values=255) for i in indices], 1)
    path = folder / "number.png"
    Image.fromarray(row).save(path)
    return str(path), "".join(str(int(mnist.test_labels[i])) for i in indices)


def _index_ready(lab, small):
    return lab.ctx.registry.predictor(None).inside_index(small, cache=None, method="pca")


def test_a_digit_is_explained_at_once_while_the_map_is_built(lab, mnist, no_warming):
    out = _named(lab.inside.explain(_ink(mnist.test_images[0].numpy()), None, None))
    label = int(mnist.test_labels[0])
    assert f"Reads **{label}**" in out["info"] and "Integrated Gradients" in out["info"]
    assert "Building the map of the 10,000 test digits" in out["status"]  # progress, where the map will be
    assert np.asarray(out["digits"]["images"][0]).shape == (28, 28) and out["digits"]["number"] == str(label)
    assert out["picker"].visible is False  # one digit: nothing to pick
    assert _picture(out["attribution"]).size == (280, 280)
    assert _picture(out["layers"]).height > 100 and _picture(out["filters"]).width > 100
    assert out["neighbours"] == [] and out["map"] is None  # the map is not ready: nothing waits for it
    assert out["map_for"] == {"wanted": True, "shown": None}  # ...the timer shows it when it is
    assert no_warming == [None]  # ...and its build was started


def test_the_map_appears_by_itself_once_ready(lab, mnist, small, no_warming):
    """The tab's timer shows the map when its build ends, with no click (it stayed empty for a minute)."""
    before = _named(lab.inside.random_digit(inside.PREDICTED, None))  # explained while the map is built
    assert before["map"] is None and before["map_for"] == {"wanted": True, "shown": None}
    args = (before["digits"], before["about"], inside.PREDICTED, None)
    waiting = _named(lab.inside.map_tick(before["map_for"], *args))
    assert "Building the map of the 10,000 test digits" in waiting["status"]
    assert all(waiting[name] == gr.skip() for name in inside.OUTPUTS if name != "status")
    _index_ready(lab, small)
    after = _named(lab.inside.map_tick(before["map_for"], *args))
    assert after["status"] == "" and after["map_for"] == {"wanted": True, "shown": ""}
    assert [t.name for t in after["map"].data][-1] == "this digit" and len(after["neighbours"]) == 8
    assert "Test digit #" in after["info"] and "nearest training digits" in after["info"]
    assert after["picker"] == gr.skip()  # the visitor's pick is left alone
    assert all(o == gr.skip() for o in lab.inside.map_tick(after["map_for"], *args))  # drawn once


def test_opening_the_tab_shows_the_map_by_itself_before_any_digit(lab, small, no_warming):
    opened = lab.inside.open_tab(None, None)
    assert opened[0] == {"wanted": True, "shown": None} and "Building the map" in opened[1]
    assert no_warming == [None]  # its build started
    waiting = _named(lab.inside.map_tick(opened[0], None, "", inside.PREDICTED, None))
    assert "Building the map" in waiting["status"] and waiting["map"] == gr.skip()
    _index_ready(lab, small)
    shown = _named(lab.inside.map_tick(opened[0], None, "", inside.PREDICTED, None))
    assert isinstance(shown["map"], go.Figure) and shown["status"] == ""
    assert [t.name for t in shown["map"].data][-1] == "misread"  # no digit yet: no ring
    assert all(o == gr.skip() for o in lab.inside.map_tick(shown["map_for"], None, "", None, None))
    assert lab.inside.map_tick(None, None, "", None, None) == tuple(gr.skip() for _ in inside.OUTPUTS)


def test_a_map_that_cannot_be_built_is_said_once_and_not_tried_again(lab, monkeypatch):
    import threading

    predictor = lab.ctx.registry.predictor(None)
    tries: list = []

    def broken(*args, **kwargs):
        tries.append(1)
        raise OSError("disk full")

    monkeypatch.setattr(predictor, "inside_index", broken)
    opened = lab.inside.open_tab(None, None)
    for thread in [t for t in threading.enumerate() if t.name == "inside-index"]:
        thread.join()
    out = _named(lab.inside.map_tick(opened[0], None, "", None, None))
    assert "could not be built (disk full)" in out["status"] and out["map_for"]["wanted"] is False
    assert all(o == gr.skip() for o in lab.inside.map_tick(out["map_for"], None, "", None, None))  # the timer stops
    lab.inside.open_tab(out["map_for"], None)
    assert tries == [1]  # built once, not again at every tick or opening


def test_with_the_map_ready_the_neighbours_and_the_map_show(lab, mnist, small, no_warming):
    _index_ready(lab, small)
    out = _named(lab.inside.random_digit(inside.PREDICTED, None))
    info, figure, near = out["info"], out["map"], out["neighbours"]
    assert "Test digit #" in info and "nearest training digits" in info and out["status"] == ""
    assert len(near) == 8 and all(
        Path(p).exists() and re.fullmatch(r"\d · \d\.\d\d · #\d+", caption) for p, caption in near
    )
    assert isinstance(figure, go.Figure)
    names = [trace.name for trace in figure.data]
    assert names == [*map(str, range(10)), "misread", "this digit"]
    assert sum(len(t.x) for t in figure.data[:10]) == 500  # every test digit of the index, once
    assert "test #" in figure.data[0].text[0]
    # The app's chart layout: transparent (it follows a dark page), nothing drawn in black (it vanished there).
    assert (
        figure.layout.title.text == "Map of the test set"
        and figure.layout.template.layout.paper_bgcolor == charts.CLEAR
    )
    assert "500 test digits" in figure.layout.title.subtitle.text
    assert not [t.name for t in figure.data if "black" in (t.marker.color, t.marker.line.color)]
    # "why not N?": the same digit, attribution for another target; the test digit's number and label stay
    digit = int(re.search(r"Reads \*\*(\d)\*\*", info).group(1))
    other = (digit + 1) % 10
    again = _named(lab.inside.retarget(out["digits"], out["about"], str(other), None))
    assert f"Reads **{digit}**" in again["info"] and f"why it might be **{other}** instead" in again["info"]
    assert again["info"].startswith(info.split(" Reads")[0])  # "Test digit #N, true label **L**."
    assert "Test digit #" in again["info"] and "true label" in again["info"]
    assert again["attribution"] != out["attribution"]  # another attribution picture
    assert no_warming == []


def test_a_number_is_read_as_the_draw_tab_reads_it_and_each_digit_can_be_explained(lab, mnist, tmp_path, no_warming):
    """An uploaded "2026" was explained as one squashed digit; now the first digit, with a picker of all four."""
    path, number = _number_png(mnist, [1, 2, 3, 4], tmp_path)  # labels 2, 1, 0, 4
    assert lab.draw.read_number(path, None)["number"] == number  # what the Draw tab reads
    out = _named(lab.inside.explain({"path": path, "orig_name": "number.png"}, None, None))
    assert out["digits"]["number"] == number and len(out["digits"]["images"]) == 4
    assert out["picker"].visible is True and out["picker"].value == 0
    assert [label for label, _ in out["picker"].choices] == [
        f"{n}: {d}" for n, d in zip(("1st", "2nd", "3rd", "4th"), number)
    ]
    assert f"Reads the number **{number}**; digit 1 of 4: Reads **{number[0]}**" in out["info"]
    third = _named(lab.inside.again(out["digits"], out["about"], 2, inside.PREDICTED, None))
    assert f"digit 3 of 4: Reads **{number[2]}**" in third["info"] and third["picker"] == gr.skip()
    assert third["attribution"] != out["attribution"]
    why = _named(lab.inside.retarget(third["digits"], third["about"], "9", None))  # the picked digit stays picked
    assert f"digit 3 of 4: Reads **{number[2]}**" in why["info"] and "why it might be **9**" in why["info"]


def test_explain_this_explains_the_draw_tabs_drawing_on_the_inside_tab(lab, mnist, no_warming):
    import base64
    import io

    buffer = io.BytesIO()
    Image.fromarray(_ink(mnist.test_images[0].numpy())).resize((280, 280)).save(buffer, format="PNG")
    url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    *out, upload, tabs = lab.inside.explain_drawing(url, None, inside.PREDICTED, None)
    out = _named(tuple(out))
    assert tabs.selected == "inside" and upload is None  # the Inside tab's own upload box is emptied
    assert out["info"].startswith("Your drawing. Reads **") and _picture(out["attribution"])
    *blank, _, tabs = lab.inside.explain_drawing(None, None, inside.PREDICTED, None)
    assert "draw a digit" in _named(tuple(blank))["info"] and tabs.selected == "inside"


def test_the_filters_are_a_readable_grid_and_the_layer_names_are_large(lab, mnist, no_warming):
    from mnist_core.inside_pictures import NAME_SIZE

    out = _named(lab.inside.explain(_ink(mnist.test_images[0].numpy()), None, None))
    filters = _picture(out["filters"])
    assert filters.width == 8 * 66 + 6 and filters.height == 4 * 66 + 6  # 32 3x3 kernels, 8 a row, 60 px each
    layers = np.asarray(_picture(out["layers"]).convert("L"))
    ink_rows = np.flatnonzero((layers[:40] < 128).any(1))  # the first layer's name, above its picture
    name_rows = ink_rows[ink_rows < ink_rows[0] + NAME_SIZE + 4]
    assert name_rows[-1] - name_rows[0] >= 12, "the layer names are drawn in large type"


def test_blank_input_says_there_is_nothing_to_explain(lab, no_warming):
    for blank in (None, np.full((28, 28), 255, np.uint8)):
        out = _named(lab.inside.explain(blank, None, None))
        assert out["info"] == inside.BLANK and out["digits"] is None
        assert out["attribution"] is None and out["neighbours"] == [] and out["picker"].visible is False
    assert _named(lab.inside.retarget(None, "", "3", None))["info"] == inside.BLANK
    assert no_warming == []


def test_the_api_explains_an_image_file_and_names_a_bad_one(lab, mnist, tmp_path, no_warming):
    path = tmp_path / "digit.png"
    Image.fromarray(255 - mnist.test_images[1].numpy()).save(path)
    info, attr, near, layers = lab.inside.api_explain({"path": str(path), "orig_name": "digit.png"}, None)
    assert f"Reads **{int(mnist.test_labels[1])}**" in info and _picture(attr) and _picture(layers)
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    with pytest.raises(Exception) as caught:
        lab.inside.api_explain(str(bad), None)
    assert "notes.png" in str(caught.value) and "Traceback" not in str(caught.value)


def test_an_mlp_without_feature_maps_is_explained_and_its_run_is_watched(lab, no_warming):
    lab.ctx.jobs.start(TrainConfig(**TINY))
    assert lab.ctx.jobs.wait(300)
    state = lab.ctx.jobs.snapshot()
    assert state.status == "done", state.message
    out = _named(lab.inside.explain(_one_png(lab), "7", state.name))
    assert "Reads" in out["info"] and _picture(out["attribution"]) and _picture(out["layers"])
    assert _picture(out["filters"])
    grid, filters, caption, seen = lab.inside.learning(None)
    assert _picture(grid).size[0] > 500 and _picture(filters) and "of 50 fixed test digits" in caption
    unchanged = lab.inside.learning(seen)  # the next tick with nothing new redraws nothing
    assert all(o == gr.skip() for o in unchanged[:3]) and unchanged[3] == seen


def _one_png(lab) -> str:
    image = np.zeros((28, 28), dtype=np.uint8)
    image[4:24, 13:16] = 255
    path = Path(lab.folder) / "one.png"
    Image.fromarray(image).save(path)
    return str(path)


@pytest.mark.skipif(os.name != "posix", reason="the training process needs POSIX (fd passing)")
def test_the_childs_step_events_carry_the_learning_snapshot(tmp_path):
    jobs = JobManager(caps=Caps(), directory=lambda: tmp_path)
    assert isinstance(jobs.runner, TrainingProcess)
    try:
        jobs.start(TrainConfig(**TINY))
        assert jobs.wait(300), "the run did not end in time"
        state = jobs.snapshot()
    finally:
        jobs.close()
    assert state.status == "done", state.message
    live = state.learning
    assert len(live["predictions"]) == len(live["correct"]) == len(live["indices"]) == 50
    assert np.asarray(live["filters"]).shape[1:] == (28, 28)  # the MLP's first-layer templates
    assert sum(live["correct"]) > 25  # after the run, most of the fixed digits are read right
