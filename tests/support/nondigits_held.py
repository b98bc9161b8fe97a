"""Held-out non-digits: what tests and benchmarks measure refusal on, drawn by generators, fonts and
shapes a model is never trained on (mnist_core/nondigits.py holds only the train side).

A refusing model learns "not a digit" from the train-side generators; measuring it on those would
only show that it remembers them. Here the same drawing code (`mnist_core.nondigits.draw`, its
canvas-like pen and hand jitter) draws other things: letters and signs in other Hershey stroke fonts
(cursive, futuram, rowmand) and other TrueType fonts (Liberation), other shapes (heart, sun, ...),
objects (cat, tree, ...) and other scribbles (Béziers, loops, zigzags, tangles), as in
docs/research/not-a-digit/ (same generators and draw order as its held.npz, less the smiley, which the
training side now draws: people draw smileys first, and a ring with features must not read as a 0).
Glyphs drawn as a digit is (mnist_core.nondigits.DIGIT_LIKE) are kept; callers report them apart.
Debian's handwriting fonts are never used here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import numpy as np

from mnist_core.nondigits import (
    FONT_DIR,
    LETTERS,
    SIGNS,
    Strokes,
    _arc,
    _poly,
    circle,
    draw,
    font_glyph,
    glyph_strokes,
)
from mnist_core.preprocess import to_mnist

HERSHEY_HELD = ("cursive", "futuram", "rowmand")
TTF_HELD = tuple(
    FONT_DIR / "liberation" / f"{n}.ttf"
    for n in ("LiberationSans-Regular", "LiberationSerif-Italic", "LiberationMono-Regular", "LiberationSansNarrow-Bold")
)
KINDS = ("letters_stroke", "letters_ttf", "signs_stroke", "signs_ttf", "shapes", "objects", "scribbles")

# ------------------------------------------------------------------------------------------
# Shapes and objects (unit box, y down).


def heart(rng: np.random.Generator) -> Strokes:
    t = np.linspace(0, 2 * math.pi, 120)
    x = 16 * np.sin(t) ** 3
    y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
    return [np.stack([x, y], 1) / 34 + 0.5]


def circle_cross(rng: np.random.Generator) -> Strokes:
    return [circle(rng), _poly((0.5, 0.05), (0.5, 0.95)), _poly((0.05, 0.5), (0.95, 0.5))]


def cross_mark(rng: np.random.Generator) -> Strokes:
    return [_poly((0.1, 0.1), (0.9, 0.9)), _poly((0.9, 0.1), (0.1, 0.9))]


def sun(rng: np.random.Generator) -> Strokes:
    out = [circle(rng, r=0.2)]
    for i in range(8):
        a = i * math.pi / 4
        out.append(
            _poly(
                (0.5 + 0.28 * math.cos(a), 0.5 + 0.28 * math.sin(a)),
                (0.5 + 0.45 * math.cos(a), 0.5 + 0.45 * math.sin(a)),
            )
        )
    return out


def envelope(rng: np.random.Generator) -> Strokes:
    return [
        _poly((0.05, 0.2), (0.95, 0.2), (0.95, 0.8), (0.05, 0.8), close=True),
        _poly((0.05, 0.2), (0.5, 0.55), (0.95, 0.2)),
    ]


def cat(rng: np.random.Generator) -> Strokes:
    return [
        circle(rng, r=0.35, cy=0.58),
        _poly((0.25, 0.38), (0.22, 0.08), (0.42, 0.25)),
        _poly((0.58, 0.25), (0.78, 0.08), (0.75, 0.38)),
        _poly((0.4, 0.5), (0.4, 0.53)),
        _poly((0.6, 0.5), (0.6, 0.53)),
        _poly((0.45, 0.65), (0.5, 0.68), (0.55, 0.65)),
        _poly((0.1, 0.62), (0.35, 0.66)),
        _poly((0.65, 0.66), (0.9, 0.62)),
    ]


def tree(rng: np.random.Generator) -> Strokes:
    return [
        _poly((0.45, 0.95), (0.45, 0.65), (0.55, 0.65), (0.55, 0.95)),
        _poly((0.45, 0.65), (0.15, 0.65), (0.5, 0.05), (0.85, 0.65), (0.55, 0.65)),
    ]


def flower(rng: np.random.Generator) -> Strokes:
    out = [circle(rng, r=0.08, cy=0.3)]
    for i in range(6):
        a = i * math.pi / 3
        out.append(_arc(0.5 + 0.17 * math.cos(a), 0.3 + 0.17 * math.sin(a), 0.09, 0.09, 0, 360, 24))
    out.append(_poly((0.5, 0.47), (0.5, 0.98)))
    out.append(_arc(0.6, 0.75, 0.1, 0.05, 0, 360, 20))
    return out


def fish(rng: np.random.Generator) -> Strokes:
    return [
        _arc(0.45, 0.5, 0.3, 0.18, 0, 360, 60),
        _poly((0.75, 0.5), (0.95, 0.3), (0.95, 0.7), (0.75, 0.5)),
        _poly((0.3, 0.45), (0.3, 0.47)),
    ]


def cloud(rng: np.random.Generator) -> Strokes:
    return [
        np.vstack(
            [
                _arc(0.3, 0.55, 0.15, 0.15, 90, 270, 20),
                _arc(0.5, 0.4, 0.2, 0.2, 180, 360, 25),
                _arc(0.72, 0.55, 0.15, 0.15, 270, 450, 20),
                _poly((0.72, 0.7), (0.3, 0.7)),
            ]
        )
    ]


def stick_figure(rng: np.random.Generator) -> Strokes:
    return [
        circle(rng, cy=0.15, r=0.12),
        _poly((0.5, 0.27), (0.5, 0.65)),
        _poly((0.25, 0.45), (0.5, 0.38), (0.75, 0.45)),
        _poly((0.3, 0.95), (0.5, 0.65), (0.7, 0.95)),
    ]


# ------------------------------------------------------------------------------------------
# Scribbles.


def bezier_squiggle(rng: np.random.Generator) -> Strokes:
    """Chained cubic Béziers through random points, 1-3 strokes."""
    out = []
    for _ in range(int(rng.integers(1, 4))):
        pts = rng.uniform(0, 1, size=(int(rng.integers(3, 7)), 2))
        curve = []
        for a, b in zip(pts[:-1], pts[1:]):
            c1, c2 = a + rng.normal(0, 0.3, 2), b + rng.normal(0, 0.3, 2)
            t = np.linspace(0, 1, 30)[:, None]
            curve.append((1 - t) ** 3 * a + 3 * (1 - t) ** 2 * t * c1 + 3 * (1 - t) * t**2 * c2 + t**3 * b)
        out.append(np.vstack(curve))
    return out


def loops(rng: np.random.Generator) -> Strokes:
    """Cursive-like loops ('eeee', 'llll'): a trochoid, one stroke."""
    n = rng.uniform(3, 7)
    t = np.linspace(0, n * 2 * math.pi, 400)
    r = rng.uniform(0.5, 1.2)
    x = t / (2 * math.pi) * rng.uniform(0.6, 1.2) - r * np.sin(t) * 0.3
    y = -r * np.cos(t) * 0.3 * rng.uniform(1, 2.5)
    return [np.stack([x, y], 1)]


def zigzag(rng: np.random.Generator) -> Strokes:
    """A zigzag or sawtooth (rows of peaks), one stroke."""
    k = int(rng.integers(3, 9))
    xs = np.linspace(0, 1, 2 * k + 1)
    ys = np.where(np.arange(2 * k + 1) % 2 == 0, 0.0, rng.uniform(0.3, 1.0))
    return [np.stack([xs, ys + rng.normal(0, 0.05, len(xs))], 1)]


def scrawl(rng: np.random.Generator) -> Strokes:
    """A tangle: 3-5 overlapping random ellipse arcs."""
    out = []
    for _ in range(int(rng.integers(3, 6))):
        cx, cy = rng.uniform(0.3, 0.7, 2)
        rx, ry = rng.uniform(0.1, 0.35, 2)
        a0 = rng.uniform(0, 360)
        out.append(_arc(cx, cy, rx, ry, a0, a0 + rng.uniform(120, 540)))
    return out


Generator = Callable[[np.random.Generator], Strokes]
SHAPES_HELD: dict[str, Generator] = {f.__name__: f for f in (heart, circle_cross, cross_mark, sun, envelope)}
OBJECTS_HELD: dict[str, Generator] = {f.__name__: f for f in (cat, tree, flower, fish, cloud, stick_figure)}
SCRIBBLES_HELD: dict[str, Generator] = {f.__name__: f for f in (bezier_squiggle, loops, zigzag, scrawl)}
DRAWINGS_HELD: dict[str, Generator] = {**SHAPES_HELD, **OBJECTS_HELD, **SCRIBBLES_HELD}

# ------------------------------------------------------------------------------------------
# Sets.


def canvas_images(n_per_kind: int, seed: int = 1) -> Iterator[tuple[str, str, np.ndarray]]:
    """(kind, name, canvas image uint8 on white paper) for n_per_kind of each of KINDS, lazily (a canvas
    is up to 560x560 px); the draw order is the research's, so a seed gives its images."""
    rng = np.random.default_rng([seed, 1])
    ttfs = [str(p) for p in TTF_HELD]

    def chars(alphabet: str) -> list[str]:  # each glyph about equally often, in random order
        return [alphabet[i % len(alphabet)] for i in rng.permutation(max(n_per_kind, len(alphabet)))[:n_per_kind]]

    for kind, alphabet in (("letters_stroke", LETTERS), ("letters_ttf", LETTERS)):
        for c in chars(alphabet):
            yield kind, c, _glyph(kind, c, rng, ttfs)
    for kind, alphabet in (("signs_stroke", SIGNS), ("signs_ttf", SIGNS)):
        for c in chars(alphabet):
            yield kind, c, _glyph(kind, c, rng, ttfs)
    for kind, generators in (("shapes", SHAPES_HELD), ("objects", OBJECTS_HELD), ("scribbles", SCRIBBLES_HELD)):
        names = list(generators)
        for i in range(n_per_kind):
            name = names[i % len(names)]
            yield kind, name, draw(generators[name](rng), rng, wobble=0.5 if kind == "scribbles" else 1.0)


def _glyph(kind: str, char: str, rng: np.random.Generator, ttfs: list[str]) -> np.ndarray:
    if kind.endswith("_stroke"):
        return draw(glyph_strokes(char, HERSHEY_HELD, rng), rng)
    return font_glyph(char, str(rng.choice(ttfs)), rng)


def held_out(n_per_kind: int, seed: int = 1) -> dict[str, tuple[list[str], np.ndarray]]:
    """{kind: (names, uint8 images (N, 28, 28), ink high)} preprocessed as any drawing is (`to_mnist`);
    names are the glyph or the generator, so callers can drop DIGIT_LIKE glyphs. An image whose ink
    all fell off the canvas reads as nothing and is left out, so N can be a little under n_per_kind."""
    names: dict[str, list[str]] = {kind: [] for kind in KINDS}
    images: dict[str, list[np.ndarray]] = {kind: [] for kind in KINDS}
    for kind, name, canvas in canvas_images(n_per_kind, seed):
        small = to_mnist(canvas)
        if small is not None:
            names[kind].append(name)
            images[kind].append(np.round(small * 255).astype(np.uint8))
    return {
        kind: (names[kind], np.stack(images[kind]) if images[kind] else np.zeros((0, 28, 28), np.uint8))
        for kind in KINDS
    }


def held_canvas(name: str, seed: int = 0, font: str = "futuram") -> np.ndarray:
    """One held-out non-digit on a canvas-like image (uint8 H x W, black on white paper), for browser
    tests to upload: a drawing by its generator's name ("heart", "cat", "zigzag": DRAWINGS_HELD) or
    one character in a held-out font (`font`: a HERSHEY_HELD name, else a TTF_HELD path)."""
    rng = np.random.default_rng(seed)
    if name in DRAWINGS_HELD:
        return draw(DRAWINGS_HELD[name](rng), rng, wobble=0.5 if name in SCRIBBLES_HELD else 1.0)
    _check_character(name)
    if font in HERSHEY_HELD:
        return draw(glyph_strokes(name, (font,), rng), rng)
    if font not in {str(p) for p in TTF_HELD}:
        raise ValueError(f"not a held-out font: {font!r}")
    return font_glyph(name, font, rng)


def _check_character(name: str) -> None:
    if len(name) != 1:
        raise ValueError(f"not a held-out drawing or a character: {name!r}; drawings: {', '.join(DRAWINGS_HELD)}")


def held_strokes(name: str, seed: int = 0, font: str = "futuram") -> list[list[tuple[float, float]]]:
    """A held-out drawing or character as mouse strokes for tests/support/strokes.py: (x, y) fractions of
    the drawing area's height around its centre (within +-0.4), a few dozen points a stroke at most."""
    rng = np.random.default_rng(seed)
    if name not in DRAWINGS_HELD:
        _check_character(name)
        if font not in HERSHEY_HELD:
            raise ValueError(f"not a held-out stroke font: {font!r}; one of {', '.join(HERSHEY_HELD)}")
    strokes = DRAWINGS_HELD[name](rng) if name in DRAWINGS_HELD else glyph_strokes(name, (font,), rng)
    pts = np.concatenate(strokes)
    lo, hi = pts.min(0), pts.max(0)
    centre, size = (lo + hi) / 2, max(float((hi - lo).max()), 1e-6)
    out = []
    for s in strokes:
        s = (np.asarray(s, float) - centre) / size * 0.8
        s = s[np.unique(np.linspace(0, len(s) - 1, min(len(s), 40)).round().astype(int))]
        out.append([(round(float(x), 4), round(float(y), 4)) for x, y in s])
    return out
