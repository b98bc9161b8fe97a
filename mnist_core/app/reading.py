"""A whole-number reading for the page: the library's `read_number` plus each digit's top 3 and 28x28 view.

`Predictor.read_number` (mnist_core/number.py) gives {"number", "digits": [{"digit", "confidence",
"box"}]}. The page also shows, per digit, the three likeliest digits and the 28x28 image the model
saw; when the library does not return them ("probabilities", "image" keys) they come from one more
batched forward pass over the digits' boxes. A predictor without `read_number` reads one digit.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image, ImageOps

if TYPE_CHECKING:
    from ..predict import Predictor


@dataclass
class Digit:
    """One digit read: its box [x0, y0, x1, y1] in the input's pixels, ten probabilities, the 28x28 input."""

    digit: int
    confidence: float
    box: list[int]
    probabilities: list[float]
    image: np.ndarray | None = None

    def top(self, k: int = 3) -> list[tuple[int, float]]:
        order = np.argsort(self.probabilities)[::-1][:k]
        return [(int(d), float(self.probabilities[d])) for d in order]

    def as_json(self) -> dict:
        """The API's digit: {"digit", "confidence", "box"} plus "top3" [[digit, probability], ...]."""
        return {"digit": self.digit, "confidence": self.confidence, "box": self.box, "top3": self.top(3)}


@dataclass
class Reading:
    """What was read in one image, left to right; `size` is the input's (width, height)."""

    digits: list[Digit] = field(default_factory=list)
    size: tuple[int, int] = (0, 0)

    @property
    def number(self) -> str | None:
        return "".join(str(d.digit) for d in self.digits) or None

    def as_json(self) -> dict:
        return {"number": self.number, "digits": [d.as_json() for d in self.digits]}


def _pixels(image: Any) -> np.ndarray:
    """An (H, W) or (H, W, C) uint8 array of an array, PIL image or (already read once) image file."""
    if isinstance(image, (str, os.PathLike)):
        with Image.open(image) as im:
            return np.asarray(ImageOps.exif_transpose(im))
    return np.asarray(image)


def _background_crop(pixels: np.ndarray, box: list[int]) -> np.ndarray:
    """The box's pixels with a margin of the image's background (its border's median), for a digit alone."""
    x0, y0, x1, y1 = box
    crop = pixels[y0:y1, x0:x1]
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    fill = np.median(border, axis=0).astype(pixels.dtype)
    margin = max(4, (max(x1 - x0, y1 - y0)) // 4)
    out = np.empty((crop.shape[0] + 2 * margin, crop.shape[1] + 2 * margin, *crop.shape[2:]), pixels.dtype)
    out[...] = fill
    out[margin : margin + crop.shape[0], margin : margin + crop.shape[1]] = crop
    return out


def read(predictor: Predictor, image: Any) -> Reading:
    """Read the number in `image` (array, PIL image or file path) with its digits' top 3 and 28x28 views."""
    if not hasattr(predictor, "read_number"):  # a library without whole numbers: one digit
        p = predictor.predict(image)
        if p.digit is None:
            return Reading()
        size = _size(image)
        return Reading([Digit(p.digit, p.confidence, [0, 0, *size], p.probabilities, p.image)], size)
    found = predictor.read_number(image)
    size = _size(image)
    raw = found["digits"]
    if not raw:
        return Reading(size=size)
    if all("probabilities" in d for d in raw):
        digits = [Digit(d["digit"], d["confidence"], d["box"], list(d["probabilities"]), d.get("image")) for d in raw]
        return Reading(digits, size)
    if len(raw) == 1:  # one digit reads exactly as `predict` does
        extra = [predictor.predict(image)]
    else:
        pixels = _pixels(image)
        extra = predictor.predict_batch([_background_crop(pixels, d["box"]) for d in raw])
    digits = [
        Digit(d["digit"], d["confidence"], d["box"], e.probabilities if e.digit is not None else _one_hot(d), e.image)
        for d, e in zip(raw, extra)
    ]
    return Reading(digits, size)


def _one_hot(d: dict) -> list[float]:
    probabilities = [0.0] * 10
    probabilities[d["digit"]] = d["confidence"]
    return probabilities


def _size(image: Any) -> tuple[int, int]:
    """(width, height) of an array, PIL image or image file."""
    if isinstance(image, Image.Image):
        return image.size
    if isinstance(image, np.ndarray):
        return int(image.shape[1]), int(image.shape[0])
    with Image.open(image) as im:
        turned = im.getexif().get(0x0112) in (5, 6, 7, 8)  # EXIF orientation: a quarter turn swaps the sides
        return im.size[::-1] if turned else im.size
