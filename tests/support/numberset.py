"""Synthetic whole numbers: MNIST digits pasted side by side, of different sizes, slanted, with varying gaps.

Used by tests/test_number.py and benchmarks/whole_numbers.py. Every number is drawn from its own seeded
generator, so a set is deterministic and a smaller set is a prefix of a larger one.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from tests.support.edgeset import crop_to_ink

STYLES = ("light_on_dark", "dark_on_white", "transparent")


def make_number(
    images: np.ndarray, labels: np.ndarray, rng: np.random.Generator, digits: int, gap: tuple[float, float] = (0.1, 0.6)
) -> tuple[np.ndarray, str, list[list[int]]]:
    """(image, the number as a string, each digit's ink box [x0, y0, x1, y1]) for `digits` random test digits.

    Heights vary from 60% to 100% of the tallest, the slant (one per number, as in handwriting) by up
    to +-0.25, baselines by +-8% and gaps between ink boxes by `gap` times the height (negative: the
    boxes overlap, as slanted writing does, but the ink stays apart).
    """
    height = int(rng.integers(40, 160))
    slant = float(rng.uniform(-0.25, 0.25))
    chosen = rng.choice(len(images), size=digits, replace=False)
    crops = []
    for index in chosen:
        ink = crop_to_ink(np.asarray(images[index]))
        scale = height * rng.uniform(0.6, 1.0) / ink.shape[0]
        size = (max(2, round(ink.shape[1] * scale)), max(2, round(ink.shape[0] * scale)))
        crops.append(_shear(np.asarray(Image.fromarray(ink).resize(size, Image.Resampling.BICUBIC)), slant))
    margin = int(rng.integers(0, height // 2 + 1))
    width = 2 * margin + 2 * sum(c.shape[1] for c in crops) + height * len(crops)
    canvas = np.zeros((height + 2 * margin + height // 4, width), np.uint8)
    x, boxes = margin, []
    for crop in crops:
        top = margin + (height - crop.shape[0]) + int(rng.integers(-height // 12, height // 12 + 1))
        top = min(max(top, 0), canvas.shape[0] - crop.shape[0])
        if boxes:  # never let the ink of two digits touch: shift right until a column of air separates them
            x = _place_apart(canvas, crop, top, x)
        region = canvas[top : top + crop.shape[0], x : x + crop.shape[1]]
        np.maximum(region, crop, out=region)
        rows, cols = np.flatnonzero(crop.any(axis=1)), np.flatnonzero(crop.any(axis=0))
        boxes.append([x + int(cols[0]), top + int(rows[0]), x + int(cols[-1]) + 1, top + int(rows[-1]) + 1])
        x += crop.shape[1] + round(height * rng.uniform(*gap))
    right = max(box[2] for box in boxes) + margin
    bottom = max(box[3] for box in boxes) + margin
    canvas = canvas[:bottom, :right]
    number = "".join(str(int(labels[index])) for index in chosen)
    return _style(canvas, STYLES[int(rng.integers(len(STYLES)))]), number, boxes


def make_number_set(
    images: np.ndarray, labels: np.ndarray, n: int, seed: int = 0, gap: tuple[float, float] = (0.1, 0.6)
) -> list[tuple[np.ndarray, str, list[list[int]]]]:
    """n numbers of 2 to 4 digits; deterministic for a seed."""
    out = []
    for k in range(n):
        rng = np.random.default_rng([seed, k])
        out.append(make_number(images, labels, rng, int(rng.integers(2, 5)), gap))
    return out


def _shear(ink: np.ndarray, slant: float) -> np.ndarray:
    """Slant a digit: each row moves right by `slant` times its height above the bottom."""
    height, width = ink.shape
    extra = int(np.ceil(abs(slant) * height))
    offset = slant * height if slant > 0 else 0.0
    image = Image.fromarray(ink).transform(
        (width + extra, height),
        Image.Transform.AFFINE,
        (1, slant, -offset, 0, 1, 0),
        resample=Image.Resampling.BICUBIC,
    )
    return np.asarray(image)


def _place_apart(canvas: np.ndarray, crop: np.ndarray, top: int, x: int) -> int:
    """The first x >= the given one where `crop` (dilated by 2 px) touches no ink already on the canvas."""
    mask = crop > 0
    grown = np.zeros((mask.shape[0] + 4, mask.shape[1] + 4), bool)
    for dy in range(5):
        for dx in range(5):
            grown[dy : dy + mask.shape[0], dx : dx + mask.shape[1]] |= mask
    while True:
        y0, x0 = top - 2, x - 2
        window = canvas[max(y0, 0) : y0 + grown.shape[0], max(x0, 0) : x0 + grown.shape[1]] > 0
        cut = grown[max(-y0, 0) :, max(-x0, 0) :][: window.shape[0], : window.shape[1]]
        if not (window & cut).any():
            return x
        x += 1


def _style(canvas: np.ndarray, style: str) -> np.ndarray:
    if style == "light_on_dark":
        return canvas
    if style == "dark_on_white":
        return np.repeat((255 - canvas)[..., None], 3, axis=2)
    rgba = np.zeros((*canvas.shape, 4), np.uint8)
    rgba[..., 3] = canvas
    return rgba
