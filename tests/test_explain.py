"""Look inside: attribution, activations, neighbours, the test-set map and its cache, the CLI.

The index is built over a small slice of MNIST (2,000 training and 500 test digits) and a PCA
map, so each test takes seconds; `python -m benchmarks.inside` measures the full 60,000 / 10,000 case.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mnist_core import embedding
from mnist_core.cli import main
from mnist_core.config import TrainConfig
from mnist_core.data import MNISTTensors
from mnist_core.embedding import cache_path_for, inside_index
from mnist_core.explain import METHOD, LearningProbe, attribute, explain, learning_digits
from mnist_core.layers import first_layer_filters, forward_stages
from mnist_core.predict import Predictor
from mnist_core.train import train
from tests.support.fixtures import TINY


@pytest.fixture(scope="module")
def small(mnist) -> MNISTTensors:
    return MNISTTensors(
        mnist.train_images[:2000], mnist.train_labels[:2000], mnist.test_images[:500], mnist.test_labels[:500]
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory, small) -> dict[str, Path]:
    """A tiny MLP and a tiny CNN, freshly trained for one epoch on 2,000 digits."""
    folder = tmp_path_factory.mktemp("tiny")
    paths = {}
    for model in ("mlp", "cnn"):
        cfg = TrainConfig(**{**TINY, "model": model, "val_size": 0})
        train(cfg, small, checkpoint_path=folder / f"{model}.pt")
        paths[model] = folder / f"{model}.pt"
    return paths


def ink_share(image: np.ndarray, attribution: np.ndarray, radius: int = 1) -> float:
    """Share of the positive attribution on pixels within `radius` px of ink (> 0.2)."""
    ink = torch.from_numpy((image > 0.2).astype(np.float32))[None, None]
    near = torch.nn.functional.max_pool2d(ink, 2 * radius + 1, stride=1, padding=radius)[0, 0].numpy() > 0
    positive = np.clip(attribution, 0, None)
    return float(positive[near].sum() / max(positive.sum(), 1e-12))


def test_bundled_model_explains_a_test_digit(default_checkpoint, small, tmp_path):
    predictor = Predictor.from_checkpoint(default_checkpoint)
    digit7 = small.test_images[0].numpy()  # a 7
    e = predictor.explain(digit7, data=small, cache=tmp_path / "index.npz", method="pca")

    assert e.digit == 7 == e.target and e.method == METHOD and e.message == ""
    assert e.attribution.shape == (28, 28) and e.attribution.dtype == np.float32
    # Integrated Gradients' completeness: with enough steps the map adds up to the logit's change
    # from the black baseline; the app's 32 steps give nearly the same map.
    x = torch.from_numpy(e.image).reshape(1, 1, 28, 28)
    with torch.inference_mode():
        change = float(predictor.model(x)[0, 7] - predictor.model(torch.zeros_like(x))[0, 7])
    fine = attribute(predictor.model, e.image, 7, steps=1024)  # 256 left 7% on the model that refuses
    assert fine.sum() == pytest.approx(change, rel=0.05)
    assert np.corrcoef(fine.ravel(), e.attribution.ravel())[0, 1] > 0.95
    assert ink_share(e.image, e.attribution) > 0.9

    names = [name for name, _ in e.activations]
    assert names == ["conv1", "conv2", "conv3+pool", "conv4", "dense1", "output"]
    assert [a.shape for _, a in e.activations][:2] == [(32, 12, 12), (64, 12, 12)]
    assert np.allclose(e.activations[-1][1], e.probabilities, atol=1e-6)

    assert len(e.neighbours) == 8 and all(0 <= i < 2000 for i, _ in e.neighbours)
    assert [label for _, label in e.neighbours] == [int(small.train_labels[i]) for i, _ in e.neighbours]
    assert e.neighbour_agreement >= 0.75  # a clear 7 sits among 7s
    assert all(-1 <= v <= 1 for v in e.map_position)

    why_not_9 = predictor.explain(digit7, target=9, data=small)
    assert why_not_9.digit == 7 and why_not_9.target == 9
    assert not np.allclose(why_not_9.attribution, e.attribution)


def test_neighbours_are_the_nearest_in_the_last_hidden_layer(default_checkpoint, small):
    """Against a brute-force cosine search over the same features."""
    model = Predictor.from_checkpoint(default_checkpoint).model
    index = inside_index(default_checkpoint, model, small, method="pca", cache=None)
    feats, _ = embedding.hidden_features(model, small.train_images)
    query, _ = embedding.hidden_features(model, small.test_images[3:4])
    cos = embedding.unit_rows(feats) @ embedding.unit_rows(query)[0]
    assert [i for i, _ in index.neighbours(query[0], 8)] == list(np.argsort(-cos)[:8])


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_freshly_trained_tiny_models_explain(trained, small, arch):
    predictor = Predictor.from_checkpoint(trained[arch])
    e = predictor.explain(small.test_images[1].numpy(), data=small, cache=None, method="pca")
    assert e.digit is not None and e.attribution.shape == (28, 28) and np.isfinite(e.attribution).all()
    assert np.abs(e.attribution).sum() > 0
    shapes = [a.shape for _, a in e.activations]
    if arch == "mlp":  # no feature maps: every stage is a vector
        assert [name for name, _ in e.activations] == ["dense1", "output"] and shapes == [(64,), (10,)]
    else:
        assert [name for name, _ in e.activations] == ["conv1", "conv2+pool", "dense1", "output"]
        assert shapes[:2] == [(16, 12, 12), (32, 5, 5)]
    assert len(e.neighbours) == 8 and e.map_position is not None
    expected = (16, 5, 5) if arch == "cnn" else (64, 28, 28)
    assert tuple(first_layer_filters(predictor.model).shape) == expected


@pytest.mark.parametrize("arch", ["mlp", "cnn", "bundled"])
def test_the_layer_walk_computes_what_the_model_computes(trained, default_checkpoint, small, arch):
    model = Predictor.from_checkpoint(default_checkpoint if arch == "bundled" else trained[arch]).model
    x = small.test_images[:16].float().div(255).unsqueeze(1)
    with torch.inference_mode():
        assert torch.allclose(forward_stages(model, x).logits, model(x), atol=1e-5)


def test_explain_without_the_index_answers_the_rest(default_checkpoint, small):
    predictor = Predictor.from_checkpoint(default_checkpoint)
    e = predictor.explain(small.test_images[0].numpy(), use_index=False)
    assert not predictor.index_ready  # nothing was built or read
    assert e.digit == 7 and e.attribution.shape == (28, 28) and len(e.activations) == 6
    assert e.neighbours == [] and e.map_position is None


def test_blank_input_has_nothing_to_explain(default_checkpoint, tmp_path):
    cache = tmp_path / "index.npz"
    e = Predictor.from_checkpoint(default_checkpoint).explain(np.zeros((200, 200), np.uint8), cache=cache)
    assert e.digit is None and "nothing to explain" in e.message
    assert e.attribution is None and e.activations == [] and e.neighbours == [] and e.map_position is None
    assert not cache.exists()  # no index is built for nothing
    assert explain(Predictor.from_checkpoint(default_checkpoint).model, None).digit is None


@pytest.mark.parametrize("target", [10, -1, "7", 2.0, True])
def test_a_target_that_is_not_a_digit_is_refused(default_checkpoint, target):
    with pytest.raises(ValueError, match="target"):
        Predictor.from_checkpoint(default_checkpoint).explain(np.zeros((28, 28)), target=target)


def _forbid_build(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("rebuilt although a valid cache exists")

    monkeypatch.setattr(embedding, "build_index", refuse)


def test_cache_is_reused_and_rebuilt_when_stale_or_corrupt(trained, small, tmp_path, monkeypatch):
    ckpt = tmp_path / "run.pt"
    ckpt.write_bytes(trained["mlp"].read_bytes())
    model = Predictor.from_checkpoint(ckpt).model
    first = inside_index(ckpt, model, small, method="pca")
    cache = cache_path_for(ckpt)
    assert cache.name == "run.pt.inside.npz" and cache.exists()

    with monkeypatch.context() as m:  # a valid cache is read, not rebuilt
        _forbid_build(m)
        again = inside_index(ckpt, model, small, method="pca")
    assert np.array_equal(again.map_xy, first.map_xy) and np.array_equal(again.train_labels, first.train_labels)

    builds = []
    real_build = embedding.build_index
    monkeypatch.setattr(embedding, "build_index", lambda *a, **k: builds.append(1) or real_build(*a, **k))

    # Stale: the checkpoint was overwritten by another run (the CNN), the cache is of the old one.
    ckpt.write_bytes(trained["cnn"].read_bytes())
    cnn = Predictor.from_checkpoint(ckpt).model
    rebuilt = inside_index(ckpt, cnn, small, method="pca")
    assert len(builds) == 1 and not np.array_equal(rebuilt.map_xy, first.map_xy)

    # Another data set or map method is another index.
    inside_index(
        ckpt,
        cnn,
        MNISTTensors(
            *(t[:-10] for t in (small.train_images, small.train_labels)), small.test_images, small.test_labels
        ),
        method="pca",
    )
    assert len(builds) == 2

    # Corrupt: garbage, a truncated file, arrays of the wrong shapes under the right key.
    good = inside_index(ckpt, cnn, small, method="pca")
    assert len(builds) == 3
    for damage in ("garbage", "truncated", "shapes"):
        if damage == "garbage":
            cache.write_bytes(b"not a zip file at all")
        elif damage == "truncated":
            cache.write_bytes(cache.read_bytes()[:2000])
        else:
            with np.load(cache) as npz:
                arrays = dict(npz)
            arrays["map_xy"] = arrays["map_xy"][:-1]
            np.savez(cache, **arrays)
        index = inside_index(ckpt, cnn, small, method="pca")
        assert np.array_equal(index.map_xy, good.map_xy)
    assert len(builds) == 6
    with monkeypatch.context() as m:  # and the rebuilt cache is good again
        _forbid_build(m)
        inside_index(ckpt, cnn, small, method="pca")


def test_unwritable_cache_folder_still_explains(trained, small, tmp_path):
    missing = tmp_path / "no" / "such" / "folder" / "index.npz"
    model = Predictor.from_checkpoint(trained["mlp"]).model
    index = inside_index(trained["mlp"], model, small, method="pca", cache=missing)
    assert len(index.map_xy) == 500 and not missing.exists()


def test_tsne_keeps_clusters_apart_and_unknown_methods_are_refused():
    """t-SNE on 90 points of three clusters (the full-size comparison: benchmarks/RESULTS.md, "Look inside")."""
    rng = np.random.default_rng(0)
    centres = np.eye(3, 16, dtype=np.float32) * 5
    features = embedding.unit_rows(np.repeat(centres, 30, axis=0) + rng.normal(0, 0.3, (90, 16)).astype(np.float32))
    xy = embedding.embed_2d(features, "tsne")
    assert xy.shape == (90, 2) and np.abs(xy).max() == pytest.approx(1.0)
    nearest = np.argsort(((xy[:, None] - xy[None]) ** 2).sum(-1), axis=1)[:, 1]
    assert (nearest // 30 == np.arange(90) // 30).all()
    with pytest.raises(ValueError, match="map method"):
        embedding.embed_2d(features, "isomap")


def test_learning_probe_reads_fixed_digits_and_keeps_the_training_mode(trained, small):
    indices = learning_digits(small)
    labels = small.test_labels[torch.as_tensor(indices)].numpy()
    assert len(indices) == 50 and len(set(indices.tolist())) == 50
    assert list(labels[:10]) == list(range(10)) and np.bincount(labels).tolist() == [5] * 10

    model = Predictor.from_checkpoint(trained["cnn"]).model.train()
    snap = LearningProbe(small)(model)
    assert model.training  # the training loop's mode is restored
    model.eval()
    with torch.inference_mode():
        logits = model(small.test_images[torch.as_tensor(indices)].float().div(255).unsqueeze(1))
    expected = logits[:, :10].argmax(1)  # the digits' outputs: a model that can refuse has an 11th
    assert snap.predictions.tolist() == expected.tolist()
    assert snap.correct.tolist() == (snap.predictions == labels).tolist()
    assert snap.filters.shape == (16, 5, 5)
    plain = snap.to_dict()
    assert plain["predictions"] == snap.predictions.tolist() and np.array(plain["filters"]).shape == (16, 5, 5)


def test_cli_explain_writes_the_pictures(trained, mnist, tmp_path, capsys):
    image = tmp_path / "digit.png"
    Image.fromarray(mnist.test_images[0].numpy()).save(image)
    out = tmp_path / "out"
    code = main(
        ["explain", str(image), "--out", str(out), "--checkpoint", str(trained["mlp"]), "--map", "pca", "--target", "3"]
    )
    assert code == 0
    names = {"input.png", "attribution.png", "activations.png", "neighbours.png", "filters.png", "map.png"}
    assert names | {"explanation.json"} == {p.name for p in out.iterdir()}
    for name in names:
        with Image.open(out / name) as picture:
            assert (
                picture.width > 20
                and picture.height > 20
                and len(np.unique(np.asarray(picture).reshape(-1, 3), axis=0)) > 2
            )
    summary = json.loads((out / "explanation.json").read_text())
    assert summary["target"] == 3 and len(summary["neighbours"]) == 8 and summary["method"] == METHOD
    assert "nearest training digits" in capsys.readouterr().out

    blank = tmp_path / "blank.png"
    Image.new("L", (50, 50), 255).save(blank)
    assert main(["explain", str(blank), "--out", str(tmp_path / "b"), "--checkpoint", str(trained["mlp"])]) == 0
    assert "nothing to explain" in capsys.readouterr().out
    assert json.loads((tmp_path / "b" / "explanation.json").read_text())["digit"] is None
