"""The Inside tab explains a refusal (issue 21): the "not a digit" score against the model's threshold, the
digit it looks most like, the nearest training digits with their distances and how far that is.

A small refusing MLP is trained once for the module (a few seconds); the refused image is the first of
a fixed set of generated doodles and scribbles that this model refuses, so nothing depends on the bundled
model. The neighbour index is built over a slice of MNIST without a cache file.
"""

from __future__ import annotations

import base64
import io
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mnist_core import embedding, nondigits
from mnist_core.app.tabs import inside
from mnist_core.config import TrainConfig
from mnist_core.data import MNISTTensors
from mnist_core.explain import explain
from mnist_core.predict import DIGIT, NOT_A_DIGIT, Predictor
from mnist_core.train import train

REFUSER = dict(model="mlp", hidden_sizes="64", train_size=5000, val_size=1000, epochs=2, batch_size=128)
CAPTION = re.compile(r"(\d) · (\d\.\d\d) · #(\d+)")


@pytest.fixture(scope="module")
def small(mnist) -> MNISTTensors:
    return MNISTTensors(
        mnist.train_images[:2000], mnist.train_labels[:2000], mnist.test_images[:500], mnist.test_labels[:500]
    )


@pytest.fixture(scope="module")
def refuser(mnist, tmp_path_factory) -> Path:
    """A small MLP trained with non-digits: it has a "not a digit" output and a fitted threshold."""
    path = tmp_path_factory.mktemp("refuser") / "refuser.pt"
    train(TrainConfig(**REFUSER), mnist, checkpoint_path=path)
    assert Predictor.from_checkpoint(path).threshold is not None, "the run fitted no refusal threshold"
    return path


@pytest.fixture(scope="module")
def never_refuses(refuser, tmp_path_factory) -> Path:
    """The same model saved without its threshold, as a checkpoint from before refusal: it never refuses."""
    payload = torch.load(refuser, weights_only=True)
    payload.pop("refusal")
    path = tmp_path_factory.mktemp("old") / "old.pt"
    torch.save(payload, path)
    return path


@pytest.fixture(scope="module")
def refused(refuser) -> np.ndarray:
    """The first of a fixed set of doodles and scribbles (canvas-like, uint8, white paper) the model refuses."""
    predictor = Predictor.from_checkpoint(refuser)
    rng = np.random.default_rng(3)
    images = [nondigits.canvas_image(kind, rng) for _ in range(20) for kind in ("doodles", "scribbles", "shapes")]
    answers = predictor.predict_batch(images)
    for image, answer in zip(images, answers):
        if answer.kind == NOT_A_DIGIT:
            return image
    pytest.fail(f"the refusing model refused none of {len(images)} non-digits: {[a.score for a in answers]}")


def test_explain_says_why_an_image_is_refused(refuser, refused, small):
    predictor = Predictor.from_checkpoint(refuser)
    said = predictor.predict(refused)
    e = predictor.explain(refused, data=small, cache=None, method="pca")

    assert e.kind == NOT_A_DIGIT == said.kind and e.refused and e.digit is None  # as Prediction says it
    assert e.closest == said.closest == e.target and "not a digit" in e.message
    assert e.score == pytest.approx(said.score, abs=1e-4) and e.threshold == predictor.threshold < e.score
    assert len(e.probabilities) == 10 and sum(e.probabilities) == pytest.approx(1.0, abs=1e-5)
    assert e.activations[-1][0] == "output" and e.activations[-1][1].shape == (10,)
    assert e.attribution.shape == (28, 28) and np.isfinite(e.attribution).all()

    # The 8 nearest training digits, their cosine distances ascending, as a brute-force search finds them.
    distances = e.neighbour_distances
    assert len(distances) == len(e.neighbours) == 8 and distances == sorted(distances) and distances[0] >= 0
    index = predictor.inside_index()
    train_f, _ = embedding.hidden_features(predictor.model, small.train_images)
    query, _ = embedding.hidden_features(predictor.model, e.image[None])
    cosine = embedding.unit_rows(train_f) @ embedding.unit_rows(query)[0]
    assert [i for i, _ in e.neighbours] == list(np.argsort(-cosine)[:8])
    assert distances == pytest.approx(list(1 - np.sort(cosine)[::-1][:8]), abs=1e-4)
    # ...and how far that is, against the test digits' distances to their nearest training digit.
    assert e.typical_distance == pytest.approx(float(np.median(index.test_nearest)))
    assert e.farther_than == index.farther_than(distances[0]) and 0 <= e.farther_than <= 1
    assert e.how_far in ("far", "farther than usual", "close")
    assert 0 <= e.neighbour_agreement <= 1  # the share of the neighbours labelled `closest`


def test_a_digit_scores_below_the_threshold_and_reads_as_before(refuser, small):
    predictor = Predictor.from_checkpoint(refuser)
    seven = small.test_images[0].numpy()
    e = predictor.explain(seven, data=small, cache=None, method="pca")
    assert e.kind == DIGIT and e.digit == e.closest == 7 and not e.refused and e.message == ""
    assert e.score == pytest.approx(predictor.predict(seven).score, abs=1e-4) and e.score < e.threshold
    assert e.neighbour_distances == sorted(e.neighbour_distances) and e.neighbour_agreement >= 0.75
    assert e.how_far != "far"  # a clear test 7 lies among the training 7s


def test_a_model_without_a_threshold_never_refuses(refuser, never_refuses, refused):
    predictor = Predictor.from_checkpoint(never_refuses)
    assert predictor.threshold is None and predictor.predict(refused).kind == DIGIT
    e = predictor.explain(refused, use_index=False)
    assert e.kind == DIGIT and e.digit == e.closest and e.threshold is None and e.message == ""
    # The same logits as the refusing model: only the threshold decides.
    with_threshold = Predictor.from_checkpoint(refuser).explain(refused, use_index=False)
    assert with_threshold.refused and with_threshold.score == pytest.approx(e.score)
    image28 = with_threshold.image
    assert explain(predictor.model, image28, threshold=with_threshold.score + 0.01).kind == DIGIT
    assert explain(predictor.model, image28, threshold=with_threshold.score - 0.01).kind == NOT_A_DIGIT


def test_the_index_knows_how_far_a_test_digit_is_from_training_and_caches_it(refuser, small, tmp_path):
    predictor = Predictor.from_checkpoint(refuser)
    cache = tmp_path / "index.npz"
    index = embedding.inside_index(refuser, predictor.model, small, method="pca", cache=cache)
    near = index.test_nearest
    assert len(near) == 500 and (np.diff(near) >= 0).all() and near[0] >= 0  # every test digit of the slice
    assert index.farther_than(-1.0) == 0.0 and index.farther_than(2.0) == 1.0
    assert index.typical_distance == pytest.approx(float(np.median(near)))
    again = embedding.inside_index(refuser, predictor.model, small, method="pca", cache=cache)
    assert np.array_equal(again.test_nearest, near)  # read back from the cache
    with np.load(cache) as npz:  # a cache without them (written before them) is rebuilt, not trusted
        arrays = {name: npz[name] for name in npz.files if name != "test_nearest"}
    np.savez(cache, **arrays)
    assert embedding.read_cache(cache, str(arrays["key"])) is None


# ------------------------------------------------------------------------------------------
# The Inside tab.


@pytest.fixture
def models(lab, refuser, never_refuses) -> dict[str, str]:
    """The refusing model and its threshold-less copy as runs of the lab's checkpoint folder."""
    shutil.copy(refuser, lab.folder / "refuser.pt")
    shutil.copy(never_refuses, lab.folder / "old.pt")
    return {"refuser": "refuser", "old": "old"}


@pytest.fixture
def no_warming(lab, monkeypatch) -> list:
    """Record the background map builds the tab asks for instead of building the full 70,000-digit index."""
    calls: list = []
    monkeypatch.setattr(lab.inside, "warm_index", lambda model: calls.append(model))
    return calls


def _named(out: tuple) -> dict:
    assert len(out) == len(inside.OUTPUTS)
    return dict(zip(inside.OUTPUTS, out))


def test_the_tab_says_plainly_why_a_drawing_is_refused(lab, models, refused, small, no_warming):
    predictor = lab.ctx.registry.predictor("refuser")
    said = predictor.predict(refused)
    score, threshold = f"{said.score:.2f}", f"{predictor.threshold:.2f}"

    # At once, while the map is being built: the score against the threshold and the closest digit.
    out = _named(lab.inside.explain(refused, None, "refuser"))
    info = out["info"]
    assert info.startswith("**Not a digit**") and out["digits"]["number"] == inside.REFUSED_MARK
    assert f"score is **{score}**, above this model's threshold **{threshold}**" in info
    assert f"Closest digit: **{said.closest}**" in info and f"red = evidence for {said.closest}" in info
    assert "Reads **" not in info and out["neighbours"] == [] and no_warming == ["refuser"]

    # With the index: how far its nearest training digits are, each caption with its distance.
    predictor.inside_index(small, cache=None, method="pca")
    e = predictor.explain(refused, data=small)  # what the library computed, to check the page against
    out = _named(lab.inside.explain(refused, None, "refuser"))
    info = out["info"]
    assert f"Its nearest training digit is **{e.how_far}**: distance {e.neighbour_distances[0]:.2f}" in info
    assert f"a typical test digit is {e.typical_distance:.2f} from its nearest" in info
    assert f"of the 8 nearest training digits are {e.closest}s" in info
    captions = [CAPTION.fullmatch(caption) for _, caption in out["neighbours"]]
    assert all(captions) and len(captions) == 8, [c for _, c in out["neighbours"]]
    assert [(int(m[3]), int(m[1])) for m in captions] == e.neighbours
    assert [float(m[2]) for m in captions] == [round(d, 2) for d in e.neighbour_distances]
    assert inside.NEAR_LABEL.startswith("8 nearest training digits")

    # "why not 3?" keeps the refusal and explains the other digit.
    other = (e.closest + 1) % 10
    why = _named(lab.inside.retarget(out["digits"], out["about"], str(other), "refuser"))
    assert why["info"].startswith("**Not a digit**") and f"why it might be **{other}** instead" in why["info"]


def test_a_digit_reads_as_before_and_an_old_model_shows_nothing_about_refusal(
    lab, models, refused, mnist, small, no_warming
):
    lab.ctx.registry.predictor("refuser").inside_index(small, cache=None, method="pca")
    seven = 255 - mnist.test_images[0].numpy()
    out = _named(lab.inside.explain(seven, None, "refuser"))
    assert out["info"].startswith("Reads **7** (") and "not a digit" not in out["info"].lower()
    assert "threshold" not in out["info"] and all(CAPTION.fullmatch(c) for _, c in out["neighbours"])

    old = lab.ctx.registry.predictor("old")
    assert old.threshold is None
    closest = old.predict(refused).closest
    out = _named(lab.inside.explain(refused, None, "old"))  # what the refusing model refuses, read as a digit
    assert out["info"].startswith(f"Reads **{closest}** (") and "not a digit" not in out["info"].lower()
    assert "threshold" not in out["info"] and "score" not in out["info"]


def test_a_number_with_a_refused_mark_and_the_draw_tabs_explain_this(lab, models, refused, mnist, no_warming):
    height = refused.shape[0]
    two = np.asarray(Image.fromarray(255 - mnist.test_images[1].numpy()).resize((height, height)))
    row = np.concatenate([two, np.full((height, 40), 255, np.uint8), refused], 1)
    reading = lab.ctx.registry.predictor("refuser").read_number(row)
    if [d.kind for d in reading.digits] != [DIGIT, NOT_A_DIGIT]:
        pytest.skip(f"the composed row reads {[(d.kind, d.closest) for d in reading.digits]}")
    first = _named(lab.inside.explain(row, None, "refuser"))
    assert first["digits"]["number"] == f"2{inside.REFUSED_MARK}" and "Reads **2?** (? = not a digit)" in first["info"]
    assert "mark 1 of 2: Reads **2**" in first["info"]
    assert [label for label, _ in first["picker"].choices] == ["1st: 2", "2nd: ?"]
    second = _named(lab.inside.again(first["digits"], first["about"], 1, inside.PREDICTED, "refuser"))
    assert "mark 2 of 2: **Not a digit**" in second["info"]

    buffer = io.BytesIO()
    Image.fromarray(refused).save(buffer, format="PNG")
    url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    *out, _, tabs = lab.inside.explain_drawing(url, None, inside.PREDICTED, "refuser")
    assert _named(tuple(out))["info"].startswith("Your drawing. **Not a digit**") and tabs.selected == "inside"
