"""Digits drawn small in a corner of the canvas, with the pad's pen (which does not shrink), read like large ones.

Issue 19, defect 6: a 3 drawn a fifth of the canvas high, its strokes a third of its height wide, read
as 8 at 99.9%. Before the fix, on the traced test digits below: 149, 149, 147, 141, 113 and 86 of 150
right at full size and at 1/2 ... 1/6 of the canvas; after it 149, 149, 149, 146, 143 and 136. Many
of the digits still wrong at 1/6 are blobs no one could read (their loops and gaps are filled).
Since the bundled model refuses what is not a digit (issue 21), such a blob may also be refused: at
1/6, 128 right, 15 refused and 7 wrong (the model before it: 136 right, 14 wrong); the ensemble bundled
since (eighth session) 133 right, 10 refused, 7 wrong.
"""

from __future__ import annotations

import pytest

from mnist_core.predict import NOT_A_DIGIT, Predictor
from tests.support import smallset

N = 150
# How many more than at full size may be read wrong at each scale: 2% down to a quarter of the canvas,
# then 5% and 10%, where the pen is over a third of the digit's height.
ALLOWED_LOSS = {2: 0.02, 3: 0.02, 4: 0.02, 5: 0.05, 6: 0.10}
# A model that refuses non-digits (issue 21) may refuse the smallest, whose loops the pen fills: that is not
# a misreading, but at most this share of them, where the bundled model refuses 0-3% and 7% (1/6).
ALLOWED_REFUSED = {2: 0.02, 3: 0.02, 4: 0.03, 5: 0.05, 6: 0.12}


@pytest.fixture(scope="module")
def predictor(default_checkpoint):
    return Predictor.from_checkpoint()


@pytest.fixture(scope="module")
def answers_per_scale(predictor, mnist) -> dict[int, dict[str, int]]:
    """Per scale: how many of the N digits were read right, read wrong, refused."""
    images, labels = mnist.test_images.numpy(), mnist.test_labels.numpy()
    answers = {}
    for scale in smallset.SCALES:
        drawings, expected = smallset.mnist_set(images, labels, N, scale)
        read = list(zip(predictor.predict_batch(drawings), expected))
        answers[scale] = {
            "right": sum(p.digit == label for p, label in read),
            "wrong": sum(p.digit is not None and p.digit != label for p, label in read),
            "refused": sum(p.kind == NOT_A_DIGIT for p, _ in read),
        }
    return answers


@pytest.mark.parametrize("scale", sorted(ALLOWED_LOSS))
def test_traced_test_digits_read_small_as_well_as_large(answers_per_scale, scale):
    full, small = answers_per_scale[1], answers_per_scale[scale]
    assert full["right"] >= 0.98 * N, answers_per_scale
    assert small["wrong"] <= full["wrong"] + ALLOWED_LOSS[scale] * N, answers_per_scale
    assert small["refused"] <= ALLOWED_REFUSED[scale] * N, answers_per_scale


@pytest.mark.parametrize("scale", smallset.SCALES)
@pytest.mark.parametrize("corner", range(4))
def test_the_browser_tests_strokes_read_at_every_size_in_every_corner(predictor, scale, corner):
    for digit, paths in smallset.STROKE_DIGITS:
        prediction = predictor.predict(smallset.drawn(paths, scale, corner))
        assert str(prediction.digit) == digit, (digit, scale, corner, prediction.probabilities)
