"""Refusing non-digits (issue 21): the 11th output, the generated non-digits it learns from, the threshold
fitted at the end of training, the three answers of Predictor, and checkpoints from before it all."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from mnist_core import nondigits
from mnist_core.checkpoint import load_model
from mnist_core.config import MODELS, TrainConfig
from mnist_core.models import build_model, refusal_margin
from mnist_core.predict import DIGIT, NO_DIGIT, NOT_A_DIGIT, Predictor
from mnist_core.refusal import REFUSE_QUANTILE, fit_refusal
from mnist_core.train import train
from tests.support.fixtures import TINY


@pytest.fixture(scope="module")
def refusing(mnist, tmp_path_factory):
    """A small MLP trained with non-digits (TrainConfig's default ratio): (checkpoint path, result)."""
    path = tmp_path_factory.mktemp("refusing") / "tiny.pt"
    cfg = TrainConfig(**{**TINY, "train_size": 5000, "val_size": 1000, "epochs": 2, "batch_size": 128})
    assert cfg.not_digits > 0  # every run learns to refuse unless asked not to
    return path, train(cfg, mnist, checkpoint_path=path)


def test_a_model_learning_to_refuse_has_an_eleventh_output_and_one_that_does_not_has_ten():
    x = torch.zeros(2, 1, 28, 28)
    for model in MODELS:
        assert build_model(TrainConfig(model=model)).eval()(x).shape == (2, 11)
        assert build_model(TrainConfig(model=model, not_digits=0)).eval()(x).shape == (2, 10)


def test_the_bank_is_made_once_by_a_fixed_seed_and_read_back_from_its_cache(tmp_path):
    first = nondigits.bank(10, root=tmp_path, log=lambda _: None)
    assert first.dtype == torch.uint8 and first.shape == (nondigits.CHUNK, 28, 28)
    assert (first.flatten(1).amax(1) > 128).all()  # every image has ink
    cached = nondigits.chunk_path(0, tmp_path)
    assert cached.exists()
    said = []
    again = nondigits.bank(10, root=tmp_path, log=said.append)
    assert torch.equal(first, again) and not said  # read, not made again
    assert np.array_equal(nondigits.make(8, 0), first[:8].numpy())  # the same seed draws the same images


def test_no_digit_like_glyph_is_ever_trained_as_a_non_digit():
    for alphabet in (nondigits.LETTERS, nondigits.SIGNS):
        kept = nondigits.trainable(alphabet)
        assert kept and not set(kept) & nondigits.DIGIT_LIKE
    assert "O" not in nondigits.trainable(nondigits.LETTERS) and "1" not in nondigits.DIGIT_LIKE


def test_training_fits_the_threshold_on_its_validation_digits_and_stores_it(refusing, mnist):
    path, result = refusing
    payload = torch.load(path, weights_only=True)
    refusal = payload["refusal"]
    assert refusal["score"] == "margin" and refusal["quantile"] == REFUSE_QUANTILE
    # The threshold leaves 1 - REFUSE_QUANTILE of the run's own validation digits above it.
    assert 0 < refusal["val_refused"] <= 1 - REFUSE_QUANTILE + 1e-3
    predictor = Predictor.from_checkpoint(path)
    assert predictor.threshold == refusal["threshold"]
    # Digits are scored on the ten digit outputs: the test accuracy is that of the digits read.
    assert result.metrics["test_accuracy"] > 0.85


def test_fit_refusal_needs_an_eleventh_output():
    assert fit_refusal(torch.randn(50, 10)) is None
    assert fit_refusal(torch.randn(0, 11)) is None
    fitted = fit_refusal(torch.randn(1000, 11), quantile=0.9)
    assert 0.09 <= fitted["val_refused"] <= 0.11


def test_predict_gives_three_answers_and_keeps_the_hint(refusing, mnist):
    path, _ = refusing
    predictor = Predictor.from_checkpoint(path)
    assert predictor.predict(np.full((50, 50), 255, np.uint8)).kind == NO_DIGIT
    digits = [mnist.test_images[i].numpy() for i in range(200)]
    shapes = list(nondigits.make(200, 999))  # a seed the bank never used
    answers = predictor.predict_batch([255 - image for image in digits + shapes])
    refused = [a for a in answers if a.kind == NOT_A_DIGIT]
    read = [a for a in answers if a.kind == DIGIT]
    assert len(refused) + len(read) == 400
    for a in refused:  # refused: no digit, the closest one kept as the hint, the score above the threshold
        assert a.digit is None and a.closest == int(np.argmax(a.probabilities)) and a.score > a.threshold
    for a in read:
        assert a.digit == a.closest and a.score <= a.threshold
    # Even this 2-epoch MLP refuses far more of the shapes than of the digits.
    assert sum(a.kind == NOT_A_DIGIT for a in answers[200:]) > 3 * max(
        1, sum(a.kind == NOT_A_DIGIT for a in answers[:200])
    )


def test_the_score_is_the_margin_of_the_eleventh_output(refusing, mnist):
    path, _ = refusing
    predictor = Predictor.from_checkpoint(path)
    image = mnist.test_images[0].numpy().astype(np.float32) / 255
    _, scores = predictor.read(image[None])
    with torch.inference_mode():
        logits = predictor.model(torch.from_numpy(image).reshape(1, 1, 28, 28))
    assert scores[0] == pytest.approx(float(refusal_margin(logits)[0]), abs=1e-5)


def test_a_number_is_given_only_when_every_mark_is_a_digit(refusing, mnist):
    path, _ = refusing
    predictor = Predictor.from_checkpoint(path)
    predictor.threshold = -1e9  # everything refused: the number must not be given
    page = np.full((60, 140), 255, np.uint8)
    for k, i in enumerate((0, 1)):
        page[16:44, 20 + 60 * k : 48 + 60 * k] = 255 - mnist.test_images[i].numpy()
    reading = predictor.read_number(page)
    assert reading.kind == NOT_A_DIGIT and reading.number is None
    marks = reading.as_json()["digits"]
    assert len(marks) == 2 and all(m["kind"] == NOT_A_DIGIT and m["digit"] is None for m in marks)
    assert all(isinstance(m["closest"], int) for m in marks)
    predictor.threshold = 1e9  # nothing refused: the number is read
    reading = predictor.read_number(page)
    assert reading.kind == DIGIT and reading.number == "".join(str(int(mnist.test_labels[i])) for i in (0, 1))


def test_a_checkpoint_from_before_refusal_loads_and_predicts_as_it_did(mnist, tmp_path):
    """Written as before this change: ten outputs, no not_digits in its config, no refusal key."""
    cfg = TrainConfig(**{**TINY, "not_digits": 0.0})
    result = train(cfg, mnist, checkpoint_path=tmp_path / "new.pt")
    payload = torch.load(tmp_path / "new.pt", weights_only=True)
    del payload["config"]["not_digits"], payload["refusal"]
    torch.save(payload, tmp_path / "old.pt")
    loaded = load_model(tmp_path / "old.pt")
    assert loaded.config.not_digits == 0
    predictor = Predictor.from_checkpoint(tmp_path / "old.pt")
    assert predictor.threshold is None
    images = mnist.test_images[:100].numpy()
    answers = predictor.predict_batch([255 - image for image in images])
    seen = np.stack([a.image for a in answers])  # the 28x28 inputs it read, through the trained model itself
    with torch.inference_mode():
        logits = result.model.cpu()(torch.from_numpy(seen).reshape(-1, 1, 28, 28))
    assert all(a.kind == DIGIT for a in answers)
    assert [a.digit for a in answers] == logits.argmax(1).tolist()


def most_refused_shape(checkpoint, out, seed: int):
    """Of 40 train-side non-digits (a seed the bank never used), the one the model refuses most, saved to `out`
    as a drawing (black on white)."""
    shapes = nondigits.make(40, seed)
    scores = Predictor.from_checkpoint(checkpoint).read(shapes.astype(np.float32) / 255)[1]
    Image.fromarray(255 - shapes[int(np.argmax(scores))]).save(out)
    return out


def test_cli_predict_json_says_which_of_the_three(refusing, mnist, tmp_path):
    path, _ = refusing
    refused = most_refused_shape(path, tmp_path / "shape.png", seed=998)
    digit = tmp_path / "digit.png"
    Image.fromarray(255 - mnist.test_images[0].numpy()).save(digit)
    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((28, 28), 255, np.uint8)).save(blank)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "mnist_core",
            "predict",
            "--checkpoint",
            str(path),
            "--json",
            str(refused),
            str(digit),
            str(blank),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)["predictions"]
    assert [r["kind"] for r in rows] == [NOT_A_DIGIT, DIGIT, NO_DIGIT]
    assert rows[0]["digit"] is None and 0 <= rows[0]["closest"] <= 9 and rows[0]["score"] > rows[0]["threshold"]
    assert rows[1]["digit"] == int(mnist.test_labels[0])
    text = subprocess.run(
        [sys.executable, "-m", "mnist_core", "predict", "--checkpoint", str(path), str(refused)],
        capture_output=True,
        text=True,
        timeout=300,
    ).stdout
    assert f"not a digit (closest: {rows[0]['closest']})" in text


def test_cli_explain_draws_a_refused_image_for_its_closest_digit(refusing, tmp_path, capsys):
    from mnist_core.cli import main

    path, _ = refusing
    image = most_refused_shape(path, tmp_path / "shape.png", seed=997)
    out = tmp_path / "out"
    assert main(["explain", str(image), "--out", str(out), "--checkpoint", str(path), "--map", "pca"]) == 0
    summary = json.loads((out / "explanation.json").read_text())
    assert summary["kind"] == NOT_A_DIGIT and summary["digit"] is None and summary["score"] > summary["threshold"]
    assert summary["target"] == summary["closest"] and len(summary["neighbour_distances"]) == 8
    assert {"input.png", "attribution.png", "neighbours.png", "map.png"} <= {p.name for p in out.iterdir()}
    printed = capsys.readouterr().out
    assert "not a digit" in printed and "nearest training digits" in printed
