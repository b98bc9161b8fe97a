"""PIL pictures of an Explanation (for the CLI and quick looks): numpy and PIL only, no plotting stack.

Colours: attribution and filters use a diverging scale (red = positive, blue = negative) over
the digit in grey; activations use a dark-to-yellow scale per stage; the map colours labels with
ten distinct colours and marks misclassified test digits with a black cross.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageDraw, ImageFont

if TYPE_CHECKING:  # numpy and PIL only at run time: the app builds its Inside tab before torch loads
    from .explain import Explanation

# Ten distinguishable label colours (Tableau 10).
LABEL_COLOURS = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
]
BACKGROUND = (255, 255, 255)


def _grey(image28: np.ndarray) -> np.ndarray:
    """Ink dark on white, as people draw: (H, W, 3) float in [0, 1]."""
    g = 1.0 - np.clip(image28, 0, 1)
    return np.repeat(g[..., None], 3, axis=2)


def diverging(values: np.ndarray, limit: float | None = None) -> np.ndarray:
    """(H, W) -> (H, W, 3) uint8: white at 0, red for positive, blue for negative, symmetric scale."""
    limit = float(np.abs(values).max()) if limit is None else limit
    v = np.clip(values / max(limit, 1e-12), -1, 1)[..., None]
    red, blue, white = np.array([0.84, 0.15, 0.16]), np.array([0.13, 0.4, 0.75]), np.ones(3)
    rgb = np.where(v >= 0, white + v * (red - white), white - v * (blue - white))
    return (rgb * 255).round().astype(np.uint8)


def _heat(values: np.ndarray) -> np.ndarray:
    """(H, W) non-negative -> (H, W, 3) uint8 from near-black through purple to yellow."""
    v = np.clip(values, 0, 1)[..., None]
    stops = np.array([[0.05, 0.03, 0.15], [0.55, 0.15, 0.5], [0.99, 0.9, 0.3]])
    rgb = np.where(v < 0.5, stops[0] + 2 * v * (stops[1] - stops[0]), stops[1] + (2 * v - 1) * (stops[2] - stops[1]))
    return (rgb * 255).round().astype(np.uint8)


def _upscale(rgb: np.ndarray, scale: int) -> Image.Image:
    return Image.fromarray(rgb).resize((rgb.shape[1] * scale, rgb.shape[0] * scale), Image.Resampling.NEAREST)


def attribution_picture(image28: np.ndarray, attribution: np.ndarray, scale: int = 10) -> Image.Image:
    """The digit in light grey with the attribution laid over it (red = evidence for, blue = against)."""
    colour = diverging(attribution).astype(np.float32) / 255
    strength = np.clip(np.abs(attribution) / max(float(np.abs(attribution).max()), 1e-12), 0, 1)[..., None]
    alpha = np.clip(2 * strength, 0, 1)  # the top half of the scale at full colour: faint evidence stays visible
    base = 1 - 0.3 * (1 - _grey(image28))  # ink at 30%: the strokes show through without drowning the colours
    rgb = (1 - alpha) * base + alpha * colour
    return _upscale((rgb * 255).round().astype(np.uint8), scale)


def _grid(tiles: list[Image.Image], columns: int, gap: int = 2) -> Image.Image:
    w, h = tiles[0].size
    rows = -(-len(tiles) // columns)
    sheet = Image.new("RGB", (columns * (w + gap) + gap, rows * (h + gap) + gap), (200, 200, 200))
    for i, tile in enumerate(tiles):
        sheet.paste(tile, (gap + (i % columns) * (w + gap), gap + (i // columns) * (h + gap)))
    return sheet


def stage_picture(values: np.ndarray, tile: int = 48, bar_height: int = 60) -> Image.Image:
    """Feature maps (C, H, W) as a grid of small images, or a dense stage (D,) as a row of bars."""
    top = max(float(values.max()), 1e-12)
    if values.ndim == 3:
        scale = max(1, tile // values.shape[1])
        tiles = [_upscale(_heat(m / top), scale) for m in values]
        return _grid(tiles, columns=min(16, len(tiles)))
    width = max(2, min(8, 640 // len(values)))
    img = Image.new("RGB", (len(values) * width, bar_height), BACKGROUND)
    draw = ImageDraw.Draw(img)
    low = min(float(values.min()), 0.0)
    span = max(top - low, 1e-12)
    zero = bar_height - 1 - (0 - low) / span * (bar_height - 1)
    for i, v in enumerate(values):
        y = bar_height - 1 - (float(v) - low) / span * (bar_height - 1)
        draw.rectangle([i * width, min(y, zero), (i + 1) * width - 1, max(y, zero)], fill=(68, 1, 84))
    return img


NAME_SIZE = 28  # px: the 16-tile-wide sheet shows at 0.4 of its size on a phone, where this is 11 px


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """PIL's own font at `size` px (its 10 px bitmap font where Pillow lacks FreeType)."""
    try:
        return ImageFont.load_default(size=size)
    except (ImportError, TypeError):
        return ImageFont.load_default()


def activations_picture(activations: list[tuple[str, np.ndarray]], name_size: int = NAME_SIZE) -> Image.Image:
    """Every stage, in order, one under the other, each under its name and shape in large type."""
    parts = [(f"{name} {'x'.join(map(str, a.shape))}", stage_picture(a)) for name, a in activations]
    font, line = _font(name_size), name_size + 8
    width = max(max(p.width for _, p in parts), 14 * name_size) + 8
    sheet = Image.new("RGB", (width, sum(p.height + line + 8 for _, p in parts) + 4), BACKGROUND)
    draw, y = ImageDraw.Draw(sheet), 4
    for title, pic in parts:
        draw.text((4, y), title, fill=(0, 0, 0), font=font)
        sheet.paste(pic, (4, y + line))
        y += pic.height + line + 8
    return sheet


def digits_picture(images: list[np.ndarray], captions: list[str], scale: int = 3) -> Image.Image:
    """A row of digits (28x28 floats in [0, 1]) with a caption under each."""
    tiles = []
    for image, caption in zip(images, captions):
        tile = Image.new("RGB", (28 * scale, 28 * scale + 14), BACKGROUND)
        tile.paste(_upscale((_grey(image) * 255).round().astype(np.uint8), scale), (0, 0))
        ImageDraw.Draw(tile).text((2, 28 * scale + 1), caption, fill=(0, 0, 0))
        tiles.append(tile)
    return _grid(tiles, columns=len(tiles))


def filters_picture(filters: np.ndarray, size: int = 60, columns: int = 16, gap: int = 2) -> Image.Image:
    """First-layer filters (F, k, k) as a grid of `columns`, each upscaled (nearest neighbour) to about
    `size` px and on its own symmetric red/blue scale."""
    tiles = [_upscale(diverging(f), max(1, size // f.shape[0])) for f in filters]
    return _grid(tiles, columns=min(columns, len(tiles)), gap=gap)


def map_picture(
    xy: np.ndarray,
    labels: np.ndarray,
    predictions: np.ndarray,
    position: tuple[float, float] | None = None,
    size: int = 600,
) -> Image.Image:
    """The test-set map: a dot per digit in its label's colour, crosses on misclassified ones, a ring at `position`."""
    img = Image.new("RGB", (size, size), BACKGROUND)
    draw = ImageDraw.Draw(img)
    pad = 12

    def to_px(x: float, y: float) -> tuple[float, float]:
        return pad + (x + 1) / 2 * (size - 2 * pad), pad + (1 - (y + 1) / 2) * (size - 2 * pad)

    for (x, y), label in zip(xy, labels):
        px, py = to_px(x, y)
        draw.ellipse([px - 1.5, py - 1.5, px + 1.5, py + 1.5], fill=LABEL_COLOURS[int(label)])
    for x, y in xy[predictions != labels]:
        px, py = to_px(x, y)
        draw.line([px - 3, py - 3, px + 3, py + 3], fill=(0, 0, 0))
        draw.line([px - 3, py + 3, px + 3, py - 3], fill=(0, 0, 0))
    for d, colour in enumerate(LABEL_COLOURS):
        draw.rectangle([size - 28, 6 + d * 14, size - 18, 16 + d * 14], fill=colour)
        draw.text((size - 14, 5 + d * 14), str(d), fill=(0, 0, 0))
    if position is not None:
        px, py = to_px(*position)
        draw.ellipse([px - 9, py - 9, px + 9, py + 9], outline=(0, 0, 0), width=3)
    return img


def write_pictures(
    explanation: Explanation,
    out_dir: str | os.PathLike,
    filters: np.ndarray | None = None,
    neighbour_images: list[np.ndarray] | None = None,
    index=None,
) -> list[Path]:
    """Write the explanation's pictures and an explanation.json into `out_dir`; return the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    e = explanation
    written: list[Path] = []

    def save(name: str, picture: Image.Image) -> None:
        picture.save(out / name)
        written.append(out / name)

    summary = {
        "kind": e.kind,
        "digit": e.digit,
        "closest": e.closest,
        "score": e.score,
        "threshold": e.threshold,
        "message": e.message,
        "probabilities": e.probabilities,
        "target": e.target,
        "method": e.method,
        "neighbours": [list(n) for n in e.neighbours],
        "neighbour_distances": e.neighbour_distances,
        "map_position": list(e.map_position) if e.map_position else None,
        "stages": [[name, list(a.shape)] for name, a in e.activations],
    }
    (out / "explanation.json").write_text(json.dumps(summary, indent=1))
    written.append(out / "explanation.json")
    if e.image is None:  # nothing drawn; a refused drawing is still explained, for its closest digit
        return written
    reads = f"reads {e.digit}" if e.digit is not None else f"not a digit (closest {e.closest})"
    save("input.png", digits_picture([e.image], [reads], scale=10))
    save("attribution.png", attribution_picture(e.image, e.attribution))
    save("activations.png", activations_picture(e.activations))
    if neighbour_images:
        captions = [f"#{i}: {label}" for i, label in e.neighbours]
        save("neighbours.png", digits_picture(neighbour_images, captions))
    if filters is not None:
        save("filters.png", filters_picture(filters))
    if index is not None:
        save("map.png", map_picture(index.map_xy, index.test_labels, index.test_predictions, e.map_position))
    return written
