"""Digits without a margin: MNIST digits cropped to their ink box, scaled and written in several formats.

Used by tests/test_edge_digits.py and benchmarks/edge_digits.py: a photo cropped to the digit, a scan
or a dataset image cropped to its ink has no margin, so the image's border is partly ink.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

SIZES = (28, 400)  # longer side of the cropped digit, px (log-uniform)
FORMATS = ("L", "RGB", "RGBA", "RGBA_alpha")
POLARITIES = ("dark_on_white", "light_on_dark")


def crop_to_ink(digit: np.ndarray) -> np.ndarray:
    """The digit's ink bounding box (any non-zero pixel), uint8."""
    rows = np.flatnonzero(digit.any(axis=1))
    cols = np.flatnonzero(digit.any(axis=0))
    return digit[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def render(ink: np.ndarray, side: int, polarity: str, fmt: str, margin: float = 0.0) -> np.ndarray:
    """Scale an ink crop (white on black) so its longer side is `side`, add a margin, write it as `fmt`."""
    height, width = ink.shape
    scale = side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    big = np.asarray(Image.fromarray(ink, "L").resize(size, Image.Resampling.BICUBIC))
    if margin:
        pad = round(margin * side)
        big = np.pad(big, pad)
    if fmt == "RGBA_alpha":  # a transparent sketch: black ink whose coverage is the alpha
        rgba = np.zeros((*big.shape, 4), np.uint8)
        rgba[..., 3] = big
        return rgba
    gray = 255 - big if polarity == "dark_on_white" else big
    if fmt == "L":
        return gray
    rgb = np.repeat(gray[..., None], 3, axis=2)
    if fmt == "RGB":
        return rgb
    return np.dstack([rgb, np.full(gray.shape, 255, np.uint8)])


def variants(n: int, seed: int) -> list[tuple[int, int, str, str]]:
    """(test index, side, polarity, format) for n digits; deterministic for a seed."""
    rng = np.random.default_rng(seed)
    indices = rng.permutation(10_000)[:n]
    out = []
    for index in indices:
        side = int(round(np.exp(rng.uniform(np.log(SIZES[0]), np.log(SIZES[1])))))
        out.append((int(index), side, POLARITIES[rng.integers(2)], FORMATS[rng.integers(len(FORMATS))]))
    return out
