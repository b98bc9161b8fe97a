"""Sketch-like test images made from MNIST digits, as a person's drawing would reach the app.

MNIST test accuracy says little about drawings from a browser canvas or photos of paper: these
arrive large, off-centre, as RGBA with the ink in the alpha channel, or JPEG-compressed on white
or grey paper. Running the model on `to_mnist(make_sketch(digit))` checks the whole pipeline
(preprocessing included) on such inputs with known labels.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import numpy as np
from PIL import Image, ImageFilter

STYLES = ("transparent", "jpeg_white", "grey_paper")
CANVAS_RANGE = (400, 800)  # square canvas side, px (inclusive)
DIGIT_FRACTION = (0.4, 0.7)  # side of the upscaled 28x28 field relative to the canvas
JPEG_QUALITY = (30, 70)  # inclusive
PAPER_GREY = (150.0, 210.0)


def make_sketch(digit: np.ndarray, rng: np.random.Generator, style: str | None = None) -> np.ndarray:
    """Render one MNIST digit (28x28, white on black) as a browser drawing or a paper photo; uint8 array.

    `style` is one of STYLES, else drawn at random.
    """
    ink = _as_ink(digit)
    if style is None:
        style = STYLES[int(rng.integers(len(STYLES)))]
    elif style not in STYLES:
        raise ValueError(f"style must be one of {', '.join(STYLES)}, not {style!r}")
    side = int(rng.integers(CANVAS_RANGE[0], CANVAS_RANGE[1] + 1))
    size = round(side * rng.uniform(*DIGIT_FRACTION))
    top, left = (int(v) for v in rng.integers(0, side - size + 1, size=2))
    canvas = np.zeros((side, side), dtype=np.float32)
    canvas[top : top + size, left : left + size] = _brush_strokes(ink, size, int(rng.choice([3, 5])))
    if style == "transparent":
        return _transparent(canvas)
    if style == "jpeg_white":
        return _jpeg(255.0 * (1.0 - canvas), int(rng.integers(JPEG_QUALITY[0], JPEG_QUALITY[1] + 1)))
    return _jpeg(_paper_photo(canvas, rng), int(rng.integers(JPEG_QUALITY[0], JPEG_QUALITY[1] + 1)))


def iter_sketches(images: np.ndarray, labels: np.ndarray, n: int, seed: int = 0) -> Iterator[tuple[np.ndarray, int]]:
    """Yield (sketch, label) for n distinct digits without holding all sketches in memory."""
    images, labels = np.asarray(images), np.asarray(labels)
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"images must have shape (N, 28, 28), not {images.shape}")
    if labels.shape != (len(images),):
        raise ValueError(f"labels must have shape ({len(images)},), not {labels.shape}")
    if not 0 <= n <= len(images):
        raise ValueError(f"n must be between 0 and {len(images)}, not {n}")
    # The permutation does not depend on n, and each sketch has its own generator, so a smaller
    # set is a prefix of a larger one with the same seed.
    order = np.random.default_rng(seed).permutation(len(images))[:n]
    for k, index in enumerate(order):
        yield make_sketch(images[index], np.random.default_rng([seed, k])), int(labels[index])


def make_sketch_set(
    images: np.ndarray, labels: np.ndarray, n: int, seed: int = 0
) -> tuple[list[np.ndarray], np.ndarray]:
    """n sketches of distinct random digits and their labels; deterministic for a seed (~1.3 MB each)."""
    pairs = list(iter_sketches(images, labels, n, seed))
    return [sketch for sketch, _ in pairs], np.array([label for _, label in pairs], dtype=np.int64)


def _as_ink(digit: np.ndarray) -> np.ndarray:
    """A 28x28 digit as uint8 ink (accepts uint8 or float in [0, 1])."""
    digit = np.asarray(digit)
    if digit.shape != (28, 28):
        raise ValueError(f"digit must have shape (28, 28), not {digit.shape}")
    if digit.dtype.kind == "f":
        return np.rint(np.clip(digit, 0.0, 1.0) * 255).astype(np.uint8)
    return digit.astype(np.uint8)


def _brush_strokes(ink: np.ndarray, size: int, dilation: int) -> np.ndarray:
    """Upscale a 28x28 digit to size x size and make its strokes look brushed: thicker, crisp edges."""
    big = Image.fromarray(ink, "L").resize((size, size), Image.Resampling.BICUBIC)
    big = big.filter(ImageFilter.MaxFilter(dilation))
    values = np.asarray(big, dtype=np.float32) / 255.0
    # Upscaled MNIST strokes have edges blurred over ~size/28 px; a brush has ~1 px anti-aliased edges.
    return np.clip((values - 0.2) / 0.6, 0.0, 1.0)


def _transparent(canvas: np.ndarray) -> np.ndarray:
    """Sketchpad composite: black ink whose coverage is the alpha, on a transparent canvas."""
    rgba = np.zeros((*canvas.shape, 4), dtype=np.uint8)
    rgba[..., 3] = np.rint(canvas * 255)
    return rgba


def _paper_photo(canvas: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Grey paper under uneven light with sensor noise and dark ink; float RGB 0..255."""
    side = canvas.shape[0]
    paper = rng.uniform(*PAPER_GREY)
    # Mild lighting gradient: up to +-15 levels across the sheet, in a random direction.
    angle = rng.uniform(0, 2 * np.pi)
    ramp = np.linspace(-1.0, 1.0, side, dtype=np.float32)
    light = rng.uniform(0, 15) * (np.cos(angle) * ramp[None, :] + np.sin(angle) * ramp[:, None])
    ink_level = rng.uniform(20, 80)
    gray = (paper + light) * (1.0 - canvas) + ink_level * canvas
    tint = np.array([1.0, 0.98, 0.94], dtype=np.float32)  # warm light, as on most phone photos
    noise = rng.normal(0.0, rng.uniform(2, 6), size=(side, side, 3)).astype(np.float32)
    return gray[..., None] * tint + noise


def _jpeg(values: np.ndarray, quality: int) -> np.ndarray:
    """Round-trip an RGB (or gray, replicated) float image through JPEG at the given quality."""
    pixels = np.clip(np.rint(values), 0, 255).astype(np.uint8)
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[..., None], 3, axis=2)
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return np.asarray(decoded.convert("RGB")).copy()
