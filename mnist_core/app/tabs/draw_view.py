"""The Draw tab's answer as plain HTML: the number, each digit's confidence, top 3 and 28x28 view.

A mark the model refuses ("not a digit", Predictor.read_number) is shown as such: the number line says
"not a digit", the mark's card and box are marked "?", and the digit it looks most like is given as a
hint ("Not a digit: closest is 8."), with its top 3 as the hint's evidence. Elements carry `data-kind`
(the library's DIGIT / NOT_A_DIGIT / NO_DIGIT) for tests and styles.

One function renders it for drawings (sent back by the pad's server function), uploads and random
test digits (Gradio events), so all three look the same. It shows the library's one reading
(`Predictor.read_number`: each digit's probabilities, box and 28x28 image) and computes nothing of
its own. No plotly, no files: images are inline base64 PNGs, bars are CSS, so the browser shows the
answer as soon as it arrives.
"""

from __future__ import annotations

import base64
import html
import io
import itertools
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

if TYPE_CHECKING:
    from ...predict import DigitReading, NumberReading

# The library's three answers (mnist_core.predict's constants, the same strings): repeated here because
# the page is built before torch loads (tests/test_imports.py), and mnist_core.predict imports torch.
DIGIT, NOT_A_DIGIT, NO_DIGIT = "digit", "not a digit", "no digit"
REFUSED_MARK = "?"  # what a refused mark's box and card show in place of a digit
MARKED_SIDE = 240  # px: longer side of the marked copy of an uploaded image
_counter = itertools.count()


def png_data_url(image: np.ndarray | Image.Image) -> str:
    """A small image as a data: URL (uint8 array or PIL image)."""
    pil = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image, dtype=np.uint8))
    buffer = io.BytesIO()
    pil.save(buffer, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def view28(image: np.ndarray | None) -> str:
    """The 28x28 float image [0, 1] the model saw, as a data URL (white ink on black, as in MNIST)."""
    if image is None:
        return ""
    return png_data_url(np.clip(np.asarray(image, np.float32) * 255, 0, 255).astype(np.uint8))


def marked_copy(pixels: np.ndarray, reading: NumberReading, frame: tuple[int, int] | None = None) -> str:
    """A copy of an image as read (a uint8 array, preprocess.load_image) with each digit's box drawn over it.

    `frame` is the (width, height) the boxes are in: by default the array's own.
    """
    copy = _displayable(pixels)
    width, height = frame or copy.size
    copy.thumbnail((MARKED_SIDE, MARKED_SIDE))
    boxes = "".join(
        f'<span class="box" style="left:{100 * d.box[0] / width:.2f}%;top:{100 * d.box[1] / height:.2f}%;'
        f'width:{100 * (d.box[2] - d.box[0]) / width:.2f}%;height:{100 * (d.box[3] - d.box[1]) / height:.2f}%" '
        f'data-kind="{d.kind}"><b>{_shown(d)}</b></span>'
        for d in reading.digits
    )
    return f'<div class="marked"><img alt="the image read, digits boxed" src="{png_data_url(copy)}">{boxes}</div>'


def _displayable(pixels: np.ndarray) -> Image.Image:
    """An RGB PIL copy of a loaded uint8 array (L, LA, RGB or RGBA), transparent parts on white paper."""
    mode = {2: "LA", 3: "RGB", 4: "RGBA"}[pixels.shape[2]] if pixels.ndim == 3 else "L"
    image = Image.fromarray(np.ascontiguousarray(pixels), mode)
    if mode in ("LA", "RGBA"):
        rgba = image.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba).convert("RGB")
    return image.convert("RGB")


def _shown(d: DigitReading) -> str:
    """What a mark's box and card show: its digit, or "?" when it is not a digit."""
    return REFUSED_MARK if d.refused else str(d.digit)


def refusal_sentence(reading: NumberReading) -> str:
    """The plain sentence under a refused answer: "Not a digit: closest is 8." for one mark; for a number,
    which marks are not digits and what each looks most like. Empty when every mark is a digit."""
    refused = [(i, d) for i, d in enumerate(reading.digits, 1) if d.refused]
    if not refused:
        return ""
    if len(reading.digits) == 1:
        return f"Not a digit: closest is {refused[0][1].closest}."
    marks = ", ".join(f"mark {i} (closest is {d.closest})" for i, d in refused)
    verb = "is not a digit" if len(refused) == 1 else "are not digits"
    return f"Not a number: {marks} {verb}."


def result_html(reading: NumberReading | None, info: str = "", marked: str = "", true_label: int | None = None) -> str:
    """The answer panel: the number ("no digit" when None or nothing read, "not a digit" when a mark is
    refused, with the hint), then one card per mark; `info` is escaped text."""
    note = f'<p class="info">{html.escape(info)}</p>' if info else ""
    stamp = f'data-n="{next(_counter)}"'  # a new value each time, so the page re-renders even a repeat
    if reading is None or not reading.digits:
        return (
            f'<div class="draw-answer" {stamp}><div class="number none" data-number="" data-kind="{NO_DIGIT}">{NO_DIGIT}</div>'
            f'<p class="hint">Nothing to read: draw a digit or a number (or upload an image of one).</p>'
            f"{note}{marked}</div>"
        )
    cards = []
    for d in reading.digits:
        bars = "".join(
            f'<div class="bar{" true" if digit == true_label else ""}"><span class="d">{digit}</span>'
            f'<span class="track"><span class="fill" style="width:{100 * p:.1f}%"></span></span>'
            f'<span class="p">{100 * p:.1f}%</span></div>'
            for digit, p in d.top(3)
        )
        seen = view28(d.image28)
        img = f'<img class="seen" alt="28x28 input" src="{seen}">' if seen else ""
        if d.refused:  # the hint in place of the digit; the bars are its evidence
            guess = f'<span class="big">{REFUSED_MARK}</span><span class="conf">closest {d.closest}</span>'
        else:
            guess = f'<span class="big">{d.digit}</span><span class="conf">{100 * d.confidence:.1f}%</span>'
        cards.append(
            f'<div class="digit-card" data-digit="{"" if d.digit is None else d.digit}" data-kind="{d.kind}" '
            f'data-closest="{d.closest}">{img}<div class="guess">{guess}</div><div class="bars">{bars}</div></div>'
        )
    number = reading.number or ""
    if reading.kind == NOT_A_DIGIT:
        line = f'<div class="number refused" data-number="" data-kind="{NOT_A_DIGIT}">{NOT_A_DIGIT}</div>'
        hint = f'<p class="hint refusal">{html.escape(refusal_sentence(reading))}</p>'
    else:
        line, hint = f'<div class="number" data-number="{number}" data-kind="{DIGIT}">{number}</div>', ""
    return f'<div class="draw-answer" {stamp}>{line}{hint}<div class="cards">{"".join(cards)}</div>{note}{marked}</div>'
