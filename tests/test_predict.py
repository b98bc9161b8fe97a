import numpy as np
import pytest
from PIL import Image


def test_default_checkpoint_is_accurate(predictor, default_checkpoint, mnist):
    """Measured here on the 10,000 test images, not read from the checkpoint's own metadata."""
    from mnist_core.evaluate import evaluate

    assert predictor.path == default_checkpoint
    measured = evaluate(predictor.model, mnist.test_images, mnist.test_labels).accuracy
    assert measured >= 0.994
    assert predictor.metrics["test_accuracy"] == pytest.approx(measured, abs=1e-4)  # what the app shows is true


def test_reads_test_digits(predictor, mnist):
    images = [mnist.test_images[i].numpy() for i in range(300)]
    preds = predictor.predict_batch(images)
    accuracy = np.mean([p.digit == int(mnist.test_labels[i]) for i, p in enumerate(preds)])
    assert accuracy >= 0.98
    p = preds[0]
    assert len(p.probabilities) == 10 and abs(sum(p.probabilities) - 1) < 1e-5
    assert p.image.shape == (28, 28)


def test_blank_inputs_give_no_digit(predictor):
    blank_canvas = {"background": None, "layers": [], "composite": np.zeros((400, 400, 4), np.uint8)}
    for image in (blank_canvas, np.full((300, 300), 255, np.uint8), Image.new("RGB", (64, 64), "white")):
        p = predictor.predict(image)
        assert p.digit is None and p.probabilities == [0.0] * 10


def test_sketch_like_set_reaches_97_percent(predictor, mnist):
    from tests.support.sketchset import make_sketch_set

    n = 400
    sketches, labels = make_sketch_set(mnist.test_images[:n].numpy(), mnist.test_labels[:n].numpy(), n, seed=0)
    preds = predictor.predict_batch(sketches)
    accuracy = np.mean([p.digit == int(y) for p, y in zip(preds, labels)])
    assert accuracy >= 0.97, accuracy


def test_image_file_of_any_size(predictor, mnist, tmp_path):
    digit = Image.fromarray(255 - mnist.test_images[0].numpy()).resize((900, 600))  # black on white, stretched
    digit.save(tmp_path / "seven.png")
    assert predictor.predict(tmp_path / "seven.png").digit == 7
    assert predictor.predict(str(tmp_path / "seven.png")).digit == 7
