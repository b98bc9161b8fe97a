"""Digits that touch the image's edge (cropped to their ink) read as well as the same digits with a margin."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
from PIL import Image

from mnist_core.preprocess import to_mnist
from tests.support.edgeset import FORMATS, POLARITIES, crop_to_ink, render, variants


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("polarity", POLARITIES)
@pytest.mark.parametrize("side", [28, 90, 300])
def test_cropped_digit_preprocesses_like_the_one_with_a_margin(mnist, fmt, polarity, side):
    for index in (0, 1, 2, 3, 7):  # a 7, 2, 1, 0 and 9: bars and loops along every edge
        ink = crop_to_ink(mnist.test_images[index].numpy())
        cropped = to_mnist(render(ink, side, polarity, fmt))
        framed = to_mnist(render(ink, side, polarity, fmt, margin=0.25))
        assert cropped is not None, (index, fmt, polarity, side)
        assert correlation(cropped, framed) > 0.95, (index, fmt, polarity, side)


def test_cropped_test_digits_are_read(predictor, mnist):
    images, labels = mnist.test_images.numpy(), mnist.test_labels.numpy()
    rows = variants(300, seed=1)
    preds = predictor.predict_batch([render(crop_to_ink(images[i]), side, p, f) for i, side, p, f in rows])
    accuracy = np.mean([pred.digit == labels[i] for pred, (i, *_) in zip(preds, rows)])
    assert accuracy >= 0.97, accuracy


def test_cropped_photo_of_paper_is_read(predictor, mnist):
    """A JPEG of grey paper with noise, cropped to the digit."""
    rng = np.random.default_rng(0)
    images, labels = mnist.test_images.numpy(), mnist.test_labels.numpy()
    right = 0
    for index in range(40):
        coverage = render(crop_to_ink(images[index]), int(rng.integers(60, 400)), "light_on_dark", "L") / 255.0
        gray = 180 * (1 - coverage) + 50 * coverage + rng.normal(0, 5, coverage.shape)
        buffer = io.BytesIO()
        Image.fromarray(np.clip(gray, 0, 255).astype(np.uint8)).convert("RGB").save(buffer, "JPEG", quality=50)
        right += predictor.predict(buffer.getvalue()).digit == labels[index]
    assert right >= 38


def _half_dark() -> np.ndarray:
    image = np.full((300, 300), 255, np.uint8)
    image[:, :120] = 0
    return image


EDGE_BLANKS = {
    "half_dark_photo": _half_dark(),
    "dark_corner": np.pad(np.zeros((100, 100), np.uint8), ((0, 200), (0, 200)), constant_values=230),
    "gaussian_noise": np.clip(np.random.default_rng(0).normal(128, 40, (300, 300)), 0, 255).astype(np.uint8),
    "uniform_noise": np.random.default_rng(1).integers(0, 256, (300, 300), dtype=np.uint8),
    "horizontal_gradient": np.tile(np.linspace(0, 255, 300), (300, 1)).astype(np.uint8),
}


@pytest.mark.parametrize("name", EDGE_BLANKS)
def test_areas_and_noise_at_the_edge_are_no_digit(name):
    assert to_mnist(EDGE_BLANKS[name]) is None


@pytest.mark.parametrize("shape", [(1, 1), (1, 40), (40, 1)])
def test_a_line_of_pixels_is_no_digit_and_warns_nothing(shape):
    line = np.zeros(shape, np.uint8)
    line.flat[::3] = 255  # ink and paper alternating along the line, both touching the edge
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's "Mean of empty slice" must not be reached
        assert to_mnist(line) is None
