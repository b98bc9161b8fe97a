"""Whole numbers: split an image into its digits left to right, each prepared as the model reads it.

The ink (found as for a single digit, mnist_core/preprocess.py) is binarised and cut into connected
components. Components that share most of their columns (the lifted bar of a 5, a speck above a
digit) are one digit, and so is a short piece close to a neighbour that ends well above that
neighbour's bottom (the bar of a 4 drawn apart from its stem); specks and dashes are dropped. Each
digit is then prepared exactly like a single MNIST digit (20 px box, centred by mass); one digit is
prepared exactly as `to_mnist` prepares it. Segmentation only: `Predictor.read_number`
(mnist_core/predict.py) reads the digits with one forward pass.

Boxes are (x0, y0, x1, y1) in the input's own pixels, x1 and y1 exclusive, at any size (inputs over
4096 px are read downscaled and their boxes scaled back). Digits whose ink touches are not split:
they read as one digit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage

from .preprocess import find_ink, ink_to_mnist

SOLID = 64  # ink level (0..255) that counts as a stroke when cutting components; fainter fringes follow them
FRINGE = 2  # px: anti-aliased fringe pixels this close to a stroke belong to it
MERGE_OVERLAP = 0.5  # merge two pieces whose columns overlap by this share of the narrower one
SPECK = 0.15  # pieces smaller than this share of the tallest digit's height (both ways) are specks
MIN_HEIGHT = 0.3  # a digit must be at least this share of the tallest one's height (else a speck or mark)
CLOSE = 0.15  # neighbours closer than this share of the taller one's height may be one digit's strokes...
FLOAT = 0.25  # ...when the shorter one ends this share of the taller one's height above its bottom


@dataclass
class _Piece:
    """A group of components: its label ids and bounding box (rows y0:y1, columns x0:x1, in the crop)."""

    labels: list[int]
    y0: int
    x0: int
    y1: int
    x1: int

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    def overlap(self, other: _Piece) -> float:
        """Shared columns as a share of the narrower piece's width."""
        shared = min(self.x1, other.x1) - max(self.x0, other.x0)
        return max(shared, 0) / max(min(self.width, other.width), 1)

    def merge(self, other: _Piece) -> _Piece:
        return _Piece(
            self.labels + other.labels,
            min(self.y0, other.y0),
            min(self.x0, other.x0),
            max(self.y1, other.y1),
            max(self.x1, other.x1),
        )


def segment(ink: np.ndarray) -> tuple[np.ndarray, list[_Piece]]:
    """Label an ink crop's strokes and group them into pieces, left to right: (label image, pieces)."""
    strokes = ink >= SOLID
    labels, count = ndimage.label(strokes, structure=np.ones((3, 3), bool))
    if count == 0:
        return labels, []
    if count > 1:
        # Fringe pixels (anti-aliasing, faint pencil) join the stroke within FRINGE px; elsewhere nothing.
        grown = ndimage.grey_dilation(labels, size=2 * FRINGE + 1)
        labels = np.where(strokes, labels, np.where(ink > 0, grown, 0))
    boxes = ndimage.find_objects(labels)
    pieces = [_Piece([k + 1], b[0].start, b[1].start, b[0].stop, b[1].stop) for k, b in enumerate(boxes) if b]
    return labels, _group(pieces)


def _group(pieces: list[_Piece]) -> list[_Piece]:
    """Merge pieces that share most of their columns (one digit's separate strokes), drop specks; left to right."""
    pieces = sorted(pieces, key=lambda piece: piece.x0)
    merged = True
    while merged:  # merging widens a piece, which may then overlap another: repeat until stable
        merged = False
        for i in range(len(pieces)):
            for j in range(i + 1, len(pieces)):
                if pieces[i].overlap(pieces[j]) >= MERGE_OVERLAP:
                    pieces[i] = pieces[i].merge(pieces.pop(j))
                    merged = True
                    break
            if merged:
                break
    tallest = max(piece.height for piece in pieces)
    kept = [p for p in pieces if max(p.height, p.width) >= SPECK * tallest] or pieces
    kept.sort(key=lambda piece: (piece.x0 + piece.x1) / 2)
    k = 0
    while k < len(kept) - 1:
        if _strokes_of_one(kept[k], kept[k + 1]):
            kept[k] = kept[k].merge(kept.pop(k + 1))
        else:
            k += 1
    return kept


def _crop(ink: np.ndarray, labels: np.ndarray, piece: _Piece) -> np.ndarray:
    """The ink of one piece only (neighbours' strokes inside its box blanked)."""
    window = labels[piece.y0 : piece.y1, piece.x0 : piece.x1]
    return np.where(np.isin(window, piece.labels), ink[piece.y0 : piece.y1, piece.x0 : piece.x1], 0).astype(np.uint8)


def _strokes_of_one(left: _Piece, right: _Piece) -> bool:
    """Whether two close neighbours are one digit's strokes: the shorter floats above the other's bottom.

    The bar of a 4 drawn apart from its stem, or a 5's lifted bar, ends well above the baseline;
    a smaller digit beside a larger one stands on it.
    """
    short, tall = sorted((left, right), key=lambda piece: piece.height)
    gap = right.x0 - left.x1
    return (
        gap <= CLOSE * tall.height
        and tall.y1 - short.y1 > FLOAT * tall.height
        and short.y1 > tall.y0  # they share rows: not a mark above the line
    )


@dataclass(frozen=True)
class DigitCrop:
    """One digit of an image: the 28x28 float image in [0, 1] the model reads, and its box in the input's pixels."""

    image28: np.ndarray
    box: tuple[int, int, int, int]


def split_digits(image: Any) -> list[DigitCrop]:
    """The digits of any supported image, left to right, each prepared for the model; [] when there is none."""
    found = find_ink(image)
    if found is None:
        return []
    labels, pieces = segment(found.ink)
    if not pieces:
        return []
    tallest = max(piece.height for piece in pieces)
    digits = []
    for piece in pieces:
        if piece.height < MIN_HEIGHT * tallest:
            continue  # a mark beside the number, not a digit
        # One piece is the whole crop, prepared exactly as to_mnist prepares a single digit.
        small = ink_to_mnist(found.ink if len(pieces) == 1 else _crop(found.ink, labels, piece))
        if small is not None:
            digits.append(DigitCrop(small, found.input_box(piece.y0, piece.x0, piece.y1, piece.x1)))
    return digits
