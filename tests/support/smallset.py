"""Digits drawn small in a corner of the Draw tab's canvas, with the canvas's pen (which does not shrink).

Used by tests/test_small_digits.py and benchmarks/small_digits.py. The pad's pen is canvas height / 13
px wide (draw_pad.js: 27 px on a 350 px canvas) whatever the size of the digit, so a digit drawn a
fifth of the canvas high has strokes a third of its height wide. Two sources of drawings:

- MNIST test digits traced with that pen: the digit scaled to the wanted height, its strokes widened
  to the pen's width (a round pen along the stroke is the stroke dilated by a disc);
- the strokes the browser tests draw (tests/support/strokes.py), drawn with PIL's round-jointed line.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

from tests.support import strokes
from tests.support.edgeset import crop_to_ink

CANVAS = (700, 350)  # (width, height) of the pad on a desktop page
FULL = 0.75  # a digit drawn at full size: this fraction of the canvas height
SCALES = (1, 2, 3, 4, 5, 6)  # 1: full size; k > 1: the digit is 1/k of the canvas high
MNIST_STROKE = 2.3 / 20  # MNIST's median stroke width relative to the digit's 20 px box
MARGIN = 0.04  # gap between the digit and the canvas corner, fraction of the height
STROKE_DIGITS = (("7", [strokes.SEVEN]), ("1", [strokes.ONE]), ("4", [strokes.FOUR_ARM, strokes.FOUR_STEM]))


def pen(height: int = CANVAS[1]) -> int:
    """The pad's pen width for a canvas this high (draw_pad.js `pen()`)."""
    return max(8, round(height / 13))


def digit_height(scale: int, height: int = CANVAS[1]) -> float:
    """How high (px) a digit of this scale is drawn: FULL of the canvas at 1, else 1/scale of it."""
    return FULL * height if scale == 1 else height / scale


def traced(digit: np.ndarray, scale: int, corner: int = 0) -> np.ndarray:
    """An MNIST digit (28x28 uint8) traced with the pad's pen at `scale`, in a corner: white RGB canvas."""
    width, height = CANVAS
    ink = crop_to_ink(np.asarray(digit))
    factor = digit_height(scale) / ink.shape[0]
    size = (max(1, round(ink.shape[1] * factor)), max(1, round(ink.shape[0] * factor)))
    big = np.asarray(Image.fromarray(ink).resize(size, Image.Resampling.BICUBIC)) > 127
    # Widen the strokes to the pen: every pixel within (pen - stroke) / 2 of the ink, anti-aliased.
    grow = max(0.0, (pen() - MNIST_STROKE * digit_height(scale)) / 2)
    pad = int(np.ceil(grow)) + 1
    distance = ndimage.distance_transform_edt(~np.pad(big, pad))
    coverage = np.clip(grow + 1.0 - distance, 0.0, 1.0)
    return _place(coverage, corner)


def drawn(paths: list, scale: int, corner: int = 0) -> np.ndarray:
    """Strokes in strokes.py's units (fractions of 0.8 x height around a centre) drawn with the pad's pen."""
    height = CANVAS[1]
    side = digit_height(scale) / 0.8  # strokes.py's digits are about 0.8 of their unit high
    thick = pen()
    ys = [y for path in paths for _, y in path]
    xs = [x for path in paths for x, _ in path]
    left, top = -min(xs) * side + thick, -min(ys) * side + thick
    w = round((max(xs) - min(xs)) * side + 2 * thick)
    h = round((max(ys) - min(ys)) * side + 2 * thick)
    image = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(image)
    for path in paths:
        draw.line([(left + x * side, top + y * side) for x, y in path], fill=255, width=thick, joint="curve")
        for x, y in (path[0], path[-1]):  # the pad's round caps
            r = thick / 2
            draw.ellipse((left + x * side - r, top + y * side - r, left + x * side + r, top + y * side + r), fill=255)
    coverage = np.asarray(image, np.float32) / 255.0
    return _place(coverage[: min(h, height), :], corner)


def _place(coverage: np.ndarray, corner: int) -> np.ndarray:
    """Paint ink coverage (float, 1 = ink) black into a corner (0..3, clockwise from top-left) of a white canvas."""
    width, height = CANVAS
    rows, cols = np.flatnonzero(coverage.any(axis=1)), np.flatnonzero(coverage.any(axis=0))
    coverage = coverage[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    h, w = coverage.shape
    gap = round(MARGIN * height)
    top = gap if corner in (0, 1) else max(0, height - gap - h)
    left = gap if corner in (0, 3) else max(0, width - gap - w)
    canvas = np.zeros((height, width), np.float32)
    canvas[top : top + h, left : left + w] = coverage[: height - top, : width - left]
    gray = np.rint(255 * (1.0 - canvas)).astype(np.uint8)
    return np.repeat(gray[..., None], 3, axis=2)


def mnist_set(images: np.ndarray, labels: np.ndarray, n: int, scale: int, seed: int = 0) -> tuple[list, np.ndarray]:
    """n random test digits traced at `scale`, each in one of the four corners; deterministic for a seed."""
    order = np.random.default_rng(seed).permutation(len(images))[:n]
    drawings = [traced(images[i], scale, corner=k % 4) for k, i in enumerate(order)]
    return drawings, np.asarray(labels)[order]
