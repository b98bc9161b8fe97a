"""Digits drawn for tests: stroke lists in the unit square, drawn as the sketchpad sends them or as a file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ONE = [(0.5, 0.15), (0.5, 0.85)]
SEVEN = [(0.25, 0.2), (0.75, 0.2), (0.45, 0.85)]


def drawing(strokes, size: int = 336, pen: int = 24) -> np.ndarray:
    """An RGBA canvas like the sketchpad's: transparent, with black strokes."""
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    points = [(x * size, y * size) for x, y in strokes]
    ImageDraw.Draw(image).line(points, fill=(0, 0, 0, 255), width=pen, joint="curve")
    return np.asarray(image)


def seven(size: int = 336) -> Image.Image:
    """A black 7 on white paper, as a grayscale image."""
    image = Image.new("L", (size, size), 255)
    points = [(x * size, y * size) for x, y in SEVEN]
    ImageDraw.Draw(image).line(points, fill=0, width=max(2, size // 14))
    return image


def seven_png(folder: Path, name: str = "seven.png") -> Path:
    """`seven()` saved as a PNG file in `folder`."""
    path = Path(folder) / name
    seven().save(path)
    return path
