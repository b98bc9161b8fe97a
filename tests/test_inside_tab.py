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


def test_a_digit_is_explained_at_once_while_the_map_is_built(lab, mnist, no_warming):
    digit28, info, attr, layers, near, figure, filters = lab.inside.explain(
        mnist.test_images[0].numpy() / 255, None, None
    )
    label = int(mnist.test_labels[0])
    assert f"Reads **{label}**" in info and "Integrated Gradients" in info and "being computed" in info
    assert np.asarray(digit28).shape == (28, 28)
    assert _picture(attr).size == (280, 280)
    assert _picture(layers).height > 100 and _picture(filters).width > 100
    assert near == [] and figure is None  # the map is not ready: nothing waits for it
    assert no_warming == [None]  # ...and its build was started


def test_with_the_map_ready_the_neighbours_and_the_map_show(lab, mnist, small, no_warming):
    predictor = lab.ctx.registry.predictor(None)
    predictor.inside_index(small, cache=None, method="pca")
    digit28, info, attr, layers, near, figure, filters = lab.inside.random_digit(inside.PREDICTED, None)
    assert "Test digit #" in info and "nearest training digits" in info
    assert len(near) == 8 and all(Path(p).exists() and caption.startswith("#") for p, caption in near)
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
    # "why not N?": the same digit, attribution for another target
    digit = int(re.search(r"Reads \*\*(\d)\*\*", info).group(1))
    other = (digit + 1) % 10
    again = lab.inside.explain(digit28, str(other), None)
    assert f"Reads **{digit}**" in again[1] and f"why it might be **{other}** instead" in again[1]
    assert again[2] != attr  # another attribution picture
    assert no_warming == []


def test_blank_input_says_there_is_nothing_to_explain(lab, no_warming):
    for blank in (None, np.zeros((28, 28)).tolist()):
        out = lab.inside.explain(blank, None, None)
        assert out[1] == inside.BLANK and out[0] is None and all(o in (None, []) for o in out[2:])
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
    out = lab.inside.explain(np.asarray(Image.open(_one_png(lab))) / 255, "7", state.name)
    assert "Reads" in out[1] and _picture(out[2]) and _picture(out[3]) and _picture(out[6])
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
