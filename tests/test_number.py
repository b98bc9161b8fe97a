"""Whole numbers: digits read left to right, each with its confidence and box; one digit as before."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image, ImageDraw

from tests.support.numberset import make_number_set

# Digits as pen strokes in the unit square (x right, y down); several strokes that do not touch.
ONE = [[(0.55, 0.05), (0.45, 0.95)]]
SEVEN = [[(0.1, 0.05), (0.9, 0.05), (0.4, 0.95)]]
FOUR = [[(0.65, 0.95), (0.65, 0.05), (0.1, 0.65), (0.9, 0.65)]]
OPEN_FOUR = [[(0.2, 0.05), (0.15, 0.6), (0.55, 0.6)], [(0.72, 0.05), (0.72, 0.95)]]  # bar stops short of the stem
FIVE_LIFTED = [  # the bar drawn apart, above the body
    [(0.25, 0.15), (0.2, 0.45), (0.55, 0.4), (0.8, 0.55), (0.8, 0.8), (0.5, 0.95), (0.15, 0.85)],
    [(0.3, 0.0), (0.85, 0.0)],
]
TWO = [[(0.15, 0.25), (0.35, 0.05), (0.7, 0.05), (0.8, 0.3), (0.15, 0.95), (0.9, 0.95)]]
ZERO = "ellipse"


def draw_number(digits: list, height: int = 200, gap: float = 0.3, slant: float = 0.0, pen: float = 0.1):
    """White strokes on black (uint8) and each digit's box [x0, y0, x1, y1] as drawn (pen included)."""
    width = round(height * 0.6)
    canvas = Image.new("L", (int((width + (gap + slant) * height) * len(digits) + height), int(height * 1.6)))
    pen_px = round(pen * height)
    x, top, boxes = height / 2, height * 0.3, []
    for strokes in digits:

        def at(u: float, v: float, x=x) -> tuple[float, float]:
            return (x + u * width + slant * (1 - v) * height, top + v * height)

        layer = Image.new("L", canvas.size)
        pen_on = ImageDraw.Draw(layer)
        if strokes == ZERO:
            pen_on.ellipse(
                [at(0.1, 0.95)[0], top + 0.05 * height, x + 0.9 * width, top + 0.95 * height], outline=255, width=pen_px
            )
        else:
            for stroke in strokes:
                pen_on.line([at(u, v) for u, v in stroke], fill=255, width=pen_px, joint="curve")
        ink = np.asarray(layer)
        rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
        boxes.append([int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1])
        canvas = Image.fromarray(np.maximum(np.asarray(canvas), ink))
        x += width + (gap + slant) * height
    return np.asarray(canvas), boxes


def sketchpad(ink: np.ndarray) -> np.ndarray:
    """As the Sketchpad sends it: black strokes whose coverage is the alpha."""
    rgba = np.zeros((*ink.shape, 4), np.uint8)
    rgba[..., 3] = ink
    return rgba


def iou(a: list[int], b: list[int]) -> float:
    width = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - width * height
    return width * height / union


DRAWN = {
    "1": [ONE],
    "4": [OPEN_FOUR],
    "5": [FIVE_LIFTED],
    "42": [FOUR, TWO],
    "2017": [TWO, ZERO, ONE, SEVEN],
    "104": [ONE, ZERO, OPEN_FOUR],
    "75": [SEVEN, FIVE_LIFTED],
}


@pytest.mark.parametrize("slant", [0.0, 0.15])
@pytest.mark.parametrize("number", DRAWN)
def test_drawn_numbers(predictor, number, slant):
    ink, boxes = draw_number(DRAWN[number], slant=slant)
    for image in (sketchpad(ink), np.repeat((255 - ink)[..., None], 3, axis=2)):
        result = predictor.read_number(image)
        assert result.number == number
        assert [d.digit for d in result.digits] == [int(c) for c in number]
        assert all(0.9 < d.confidence <= 1.0 for d in result.digits)
        assert all(iou(d.box, box) > 0.9 for d, box in zip(result.digits, boxes))
    json.dumps(result.as_json())  # plain types: it goes through the API as is


def test_digits_of_different_sizes_and_gaps(predictor):
    ink, _ = draw_number([SEVEN], height=260)
    small, _ = draw_number([ONE, FOUR], height=140, gap=0.12)
    canvas = np.zeros((450, ink.shape[1] + small.shape[1]), np.uint8)
    canvas[: ink.shape[0], : ink.shape[1]] = ink
    canvas[450 - small.shape[0] :, ink.shape[1] :] = small  # smaller, lower, close together
    assert predictor.read_number(canvas).number == "714"


def test_mnist_numbers(predictor, mnist):
    images, labels = mnist.test_images.numpy(), mnist.test_labels.numpy()
    numbers = make_number_set(images, labels, 60, seed=1) + make_number_set(images, labels, 40, 2, gap=(-0.15, 0.1))
    right = 0
    for image, truth, boxes in numbers:
        result = predictor.read_number(image)
        right += result.number == truth
        if result.number is not None and len(result.number) == len(truth):
            # The true boxes include the faintest upscaling fringe, which the reader counts as paper.
            assert all(iou(d.box, box) > 0.7 for d, box in zip(result.digits, boxes))
    assert right >= 95, right


def test_one_digit_reads_as_predict_does(predictor, mnist):
    for index in range(10):
        digit = Image.fromarray(255 - mnist.test_images[index].numpy()).resize((280, 280))
        single = predictor.predict(digit)
        result = predictor.read_number(digit)
        assert result.number == str(single.digit)
        (only,) = result.digits
        assert only.probabilities == pytest.approx(single.probabilities, abs=1e-6)
        assert np.array_equal(only.image28, single.image)  # the same 28x28 input


def test_specks_beside_a_number_are_ignored(predictor):
    ink, _ = draw_number([FOUR, TWO])
    ink = ink.copy()
    ink[300:306, 40:46] = 255  # a dot before the number
    ink[30:34, 330:350] = 255  # a short dash above it
    assert predictor.read_number(ink).number == "42"


def photo(width: int, height: int, left: int, top: int) -> tuple[np.ndarray, list[list[int]], str]:
    """A white canvas of width x height with "427" drawn big in black at (left, top), each digit's ink box, the number."""
    ink, boxes = draw_number([FOUR, TWO, SEVEN], height=800)
    canvas = np.full((height, width), 255, np.uint8)
    canvas[top : top + ink.shape[0], left : left + ink.shape[1]] = 255 - ink
    return canvas, [[x0 + left, y0 + top, x1 + left, y1 + top] for x0, y0, x1, y1 in boxes], "427"


def assert_encloses(found: list, boxes: list[list[int]]) -> None:
    """Each box read encloses its digit's ink in the input's own pixels, and hugs it (within 2 px)."""
    for d, (x0, y0, x1, y1) in zip(found, boxes):
        bx0, by0, bx1, by1 = d.box
        assert bx0 <= x0 and by0 <= y0 and bx1 >= x1 and by1 >= y1, (d.box, (x0, y0, x1, y1))
        assert max(x0 - bx0, y0 - by0, bx1 - x1, by1 - y1) <= 2, (d.box, (x0, y0, x1, y1))


def test_a_6000_px_photo_reads_with_boxes_in_its_own_pixels(predictor, tmp_path):
    """Inputs over 4096 px are read downscaled; their boxes still come in the input's pixels."""
    canvas, boxes, number = photo(6000, 1500, left=2600, top=100)
    Image.fromarray(canvas).save(tmp_path / "photo.png")
    for image in (canvas, tmp_path / "photo.png", Image.fromarray(canvas).convert("RGB")):
        result = predictor.read_number(image)
        assert result.number == number
        assert_encloses(result.digits, boxes)


def test_a_sideways_stored_photo_boxes_the_upright_image(predictor, tmp_path):
    """EXIF orientation 3 (stored upside down), odd sizes: the partial last block of the downscale comes first."""
    canvas, boxes, number = photo(6001, 1501, left=2601, top=101)
    stored = Image.fromarray(canvas).rotate(180)
    exif = Image.Exif()
    exif[0x0112] = 3
    stored.save(tmp_path / "upside-down.png", exif=exif)
    result = predictor.read_number(tmp_path / "upside-down.png")
    assert result.number == number
    assert_encloses(result.digits, boxes)


def test_one_reading_gives_each_digit_its_probabilities_and_28x28_input(predictor, monkeypatch):
    """One forward pass: the digit, its confidence and its top 3 all come from the same ten probabilities."""
    ink, _ = draw_number([FOUR, TWO, SEVEN])
    passes = []
    forward = predictor.model.forward
    monkeypatch.setattr(predictor.model, "forward", lambda x: passes.append(len(x)) or forward(x))
    result = predictor.read_number(ink)
    assert passes == [3]  # all three digits in one batch, and no second pass
    for d in result.digits:
        assert len(d.probabilities) == 10 and sum(d.probabilities) == pytest.approx(1, abs=1e-5)
        assert d.digit == int(np.argmax(d.probabilities)) and d.confidence == max(d.probabilities)
        top = d.top(3)
        assert top[0] == (d.digit, d.confidence) and top[0][1] >= top[1][1] >= top[2][1]
        assert d.image28.shape == (28, 28) and d.image28.dtype == np.float32
    assert result.as_json() == {
        "kind": "digit",
        "number": "427",
        "digits": [
            {
                "kind": "digit",
                "digit": d.digit,
                "closest": d.digit,
                "confidence": d.confidence,
                "box": list(d.box),
                "top3": [list(t) for t in d.top(3)],
            }
            for d in result.digits
        ],
    }


@pytest.mark.parametrize(
    "image",
    [
        None,
        np.zeros((300, 300), np.uint8),
        np.full((200, 400, 3), 255, np.uint8),
        np.pad(np.full((6, 6), 255, np.uint8), 150),
    ],
    ids=["none", "black", "white", "dot"],
)
def test_nothing_is_no_number(predictor, image):
    result = predictor.read_number(image)
    assert result.number is None and result.digits == []
    assert result.as_json() == {"kind": "no digit", "number": None, "digits": []}


def test_cli_predict_number(default_checkpoint, tmp_path):
    ink, _ = draw_number([FOUR, TWO])
    Image.fromarray(255 - ink).save(tmp_path / "42.png")
    Image.new("L", (100, 100), 255).save(tmp_path / "blank.png")
    command = [sys.executable, "-m", "mnist_core", "predict", "--number"]
    out = subprocess.run(
        [*command, "--json", str(tmp_path / "42.png"), str(tmp_path / "blank.png")],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = json.loads(out.stdout)["predictions"]
    assert rows[0]["number"] == "42" and len(rows[0]["digits"]) == 2 and rows[1]["number"] is None
    text = subprocess.run([*command, str(tmp_path / "42.png")], capture_output=True, text=True, check=True).stdout
    assert text.startswith(f"{tmp_path / '42.png'}: 42  (4 ")
    refused = subprocess.run([*command, "--random", "3"], capture_output=True, text=True)
    assert refused.returncode == 2 and "--number reads image files" in refused.stderr
