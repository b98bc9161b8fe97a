"""Generated non-digits, drawn as a visitor draws on the Draw tab's canvas: what a model learns to
refuse as its 11th answer, "not a digit" (TrainConfig.not_digits; outlier exposure).

A generator returns strokes: a list of (n, 2) float arrays in a unit box (x right, y down). `draw`
renders them as the canvas does (white paper, black round pen of max(8, round(height / 13)) px) with
a hand-drawn look (a random affine and a wobble along each stroke); the image then goes through the
app's own preprocessing (`preprocess.to_mnist`), as any drawing does. Letters and signs come from
single-stroke Hershey fonts (drawn as a pen would) and from TrueType fonts.

Only the TRAIN side lives here: letters, signs, shapes, scribbles and random doodles that models are
trained on. Other fonts and generators are held out for testing (tests/support/nondigits_held.py),
so what a test measures was never trained on. Glyphs drawn exactly as a digit is (O, l, Z, S, q, ...:
DIGIT_LIKE) are never trained as non-digits. Debian's handwriting fonts are never used anywhere.

`bank(n)` is what training reads: n images (uint8, 28x28), made in chunks of CHUNK by a fixed seed and
cached under the data folder (about 10 ms an image, once per machine).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from .atomic import atomic_write
from .data import data_dir

Strokes = list[np.ndarray]

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
SIGNS = "+-=?!@#&%*/<>$~^()[]{}:;\\|"
# Glyphs a person could well take for a digit, or that MNIST's writers draw the same way (a bare
# stroke is a 1): never trained as non-digits, and reported apart by the tests and benchmarks.
DIGIT_LIKE = frozenset("OoQDIlij|/\\()[]ZzSsbBgqGTJy&-")
# The stricter list: glyphs drawn exactly as a digit is (0, 1, 2, 5, 6, 8, 9).
DIGIT_TWINS = frozenset("OoIl|ZzSsbBgq")

HERSHEY_TRAIN = ("futural", "rowmans", "scripts")  # single-stroke fonts (PyPI Hershey-Fonts)
FONT_DIR = Path("/usr/share/fonts/truetype")
TTF_TRAIN = tuple(
    FONT_DIR / "dejavu" / f"{n}.ttf" for n in ("DejaVuSans", "DejaVuSerif", "DejaVuSans-Oblique", "DejaVuSansMono")
)

BANK_VERSION = 2  # bump when a generator changes: the cached chunks are then made again
CHUNK = 1000

# ------------------------------------------------------------------------------------------
# Drawing like the canvas.


def _resample(line: np.ndarray, step: float) -> np.ndarray:
    if len(line) < 2:
        return line
    seg = np.linalg.norm(np.diff(line, axis=0), axis=1)
    total = seg.sum()
    if total < 1e-9:
        return line[:1]
    t = np.concatenate([[0], np.cumsum(seg)])
    n = max(2, int(total / step) + 1)
    s = np.linspace(0, total, n)
    return np.stack([np.interp(s, t, line[:, 0]), np.interp(s, t, line[:, 1])], 1)


def _smooth_noise(n: int, rng: np.random.Generator, amp: float) -> np.ndarray:
    """A slowly wandering 2-D offset (n points), std about `amp`."""
    walk = np.cumsum(rng.normal(size=(n + 20, 2)), axis=0)
    kernel = np.hanning(15)
    kernel /= kernel.sum()
    walk = np.stack([np.convolve(walk[:, d], kernel, "same") for d in range(2)], 1)[10 : 10 + n]
    walk -= walk.mean(0)
    std = walk.std() or 1.0
    return walk / std * amp


def jitter(strokes: Strokes, rng: np.random.Generator, amount: float = 1.0) -> Strokes:
    """Hand-drawn look: a random affine (slant, rotation, aspect) and a wobble along each stroke."""
    pts = np.concatenate(strokes)
    lo, hi = pts.min(0), pts.max(0)
    centre, size = (lo + hi) / 2, max(float((hi - lo).max()), 1e-6)
    angle = math.radians(rng.normal(0, 8) * amount)
    shear = rng.uniform(-0.25, 0.25) * amount
    sx = math.exp(rng.normal(0, 0.15) * amount)
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    affine = rot @ np.array([[sx, shear], [0, 1 / sx]])
    out = []
    for s in strokes:
        s = (np.asarray(s, float) - centre) / size
        s = _resample(s, 0.01)
        s = s + _smooth_noise(len(s), rng, 0.008 * amount)
        out.append(s @ affine.T)
    return out


def draw(strokes: Strokes, rng: np.random.Generator, wobble: float = 1.0) -> np.ndarray:
    """Black strokes on a white canvas (uint8, H x W) as the Draw tab's canvas paints them."""
    strokes = jitter(strokes, rng, wobble)
    width = int(rng.integers(300, 560))
    height = int(width * rng.uniform(0.7, 1.0))
    pen = max(8, round(height / 13))
    pts = np.concatenate(strokes)
    lo, hi = pts.min(0), pts.max(0)
    extent = max(float((hi - lo).max()), 1e-6)
    target = height * rng.uniform(0.3, 0.95)  # up to the canvas's full height, as people draw
    scale = target / extent
    span = (hi - lo) * scale
    free_x = max(width - span[0] - 2 * pen, 0)
    free_y = max(height - span[1] - 2 * pen, 0)
    ox = pen + rng.uniform(0, free_x) - lo[0] * scale
    oy = pen + rng.uniform(0, free_y) - lo[1] * scale
    image = Image.new("L", (width, height), 255)
    pad = ImageDraw.Draw(image)
    r = pen / 2
    for s in strokes:
        xy = [(float(x * scale + ox), float(y * scale + oy)) for x, y in s]
        if len(xy) > 1:
            pad.line(xy, fill=0, width=pen, joint="curve")
        for x, y in (xy[0], xy[-1]):
            pad.ellipse((x - r, y - r, x + r, y + r), fill=0)
    return np.asarray(image)


# ------------------------------------------------------------------------------------------
# Letters and signs.

_HERSHEY: dict[str, object] = {}


def hershey_glyph(char: str, font: str) -> Strokes:
    """The strokes of one character of a Hershey font (y down)."""
    from HersheyFonts import HersheyFonts

    if font not in _HERSHEY:
        f = HersheyFonts()
        f.load_default_font(font)
        _HERSHEY[font] = f
    strokes = [np.array(s, float) for s in _HERSHEY[font].strokes_for_text(char) if len(s)]
    return strokes  # the package already gives y down


def font_glyph(char: str, path: str, rng: np.random.Generator) -> np.ndarray:
    """One character of a TrueType font drawn black on white at a canvas-like size (uint8)."""
    height = int(rng.integers(300, 560))
    font = ImageFont.truetype(path, int(height * rng.uniform(0.4, 0.8)))
    image = Image.new("L", (int(height * 1.3), height), 255)
    d = ImageDraw.Draw(image)
    x0, y0, x1, y1 = d.textbbox((0, 0), char, font=font)
    ox = rng.uniform(0, max(image.width - (x1 - x0), 0)) - x0
    oy = rng.uniform(0, max(image.height - (y1 - y0), 0)) - y0
    d.text((ox, oy), char, fill=0, font=font)
    angle = rng.normal(0, 8)
    image = image.rotate(angle, resample=Image.Resampling.BILINEAR, fillcolor=255)
    return np.asarray(image)


# ------------------------------------------------------------------------------------------
# Shapes (unit box, y down).


def _arc(cx, cy, rx, ry, a0, a1, n=40) -> np.ndarray:
    t = np.linspace(math.radians(a0), math.radians(a1), n)
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], 1)


def _poly(*pts, close=False) -> np.ndarray:
    p = np.array(pts, float)
    return np.vstack([p, p[:1]]) if close else p


def circle(rng, cx=0.5, cy=0.5, r=0.4):
    start = rng.uniform(0, 360)
    return _arc(cx, cy, r, r * rng.uniform(0.85, 1.15), start, start + 360 + rng.uniform(0, 25))


def star(rng):
    k = 5
    a = rng.uniform(0, 2 * math.pi / k) - math.pi / 2
    pts = [
        (0.5 + 0.45 * math.cos(a + i * 4 * math.pi / k), 0.5 + 0.45 * math.sin(a + i * 4 * math.pi / k))
        for i in range(k + 1)
    ]
    return [np.array(pts)]


def star_outline(rng):
    k = int(rng.choice([5, 6]))
    pts = []
    for i in range(2 * k + 1):
        r = 0.45 if i % 2 == 0 else 0.45 * rng.uniform(0.35, 0.5)
        a = -math.pi / 2 + i * math.pi / k
        pts.append((0.5 + r * math.cos(a), 0.5 + r * math.sin(a)))
    return [np.array(pts)]


def triangle(rng):
    return [_poly((0.5, 0.1), (0.9, 0.85), (0.1, 0.85), close=True)]


def square(rng):
    h = rng.uniform(0.5, 0.9)
    return [_poly((0.1, 0.1), (0.9, 0.1), (0.9, 0.1 + h), (0.1, 0.1 + h), close=True)]


def arrow(rng):
    a = rng.choice([0, 90, 180, 270, 45])
    base = [np.array([(0.1, 0.5), (0.9, 0.5)]), np.array([(0.65, 0.3), (0.9, 0.5), (0.65, 0.7)])]
    t = math.radians(a)
    rot = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
    return [(s - 0.5) @ rot.T + 0.5 for s in base]


def spiral(rng):
    turns = rng.uniform(2, 3.5)
    t = np.linspace(0, turns * 2 * math.pi, 200)
    r = 0.05 + 0.4 * t / t[-1]
    return [np.stack([0.5 + r * np.cos(t), 0.5 + r * np.sin(t)], 1)]


def tick(rng):
    return [_poly((0.1, 0.55), (0.38, 0.85), (0.9, 0.15))]


def house(rng):
    return [
        _poly((0.15, 0.45), (0.15, 0.95), (0.85, 0.95), (0.85, 0.45)),
        _poly((0.05, 0.5), (0.5, 0.08), (0.95, 0.5)),
        _poly((0.42, 0.95), (0.42, 0.7), (0.58, 0.7), (0.58, 0.95)),
    ]


def diamond(rng):
    return [_poly((0.5, 0.05), (0.85, 0.5), (0.5, 0.95), (0.15, 0.5), close=True)]


def lightning(rng):
    return [_poly((0.6, 0.05), (0.3, 0.5), (0.6, 0.5), (0.35, 0.95))]


def face(rng: np.random.Generator) -> Strokes:
    """A smiley: the drawing people try first on a digit demo (eyes as dots or dashes; a smile, a frown
    or a straight mouth; sometimes a nose). Its ring alone would be a 0: the features make it a face."""
    eye_y, gap, mouth = rng.uniform(0.3, 0.42), rng.uniform(0.1, 0.16), rng.integers(3)
    dash = rng.uniform(0.005, 0.06)
    out = [
        circle(rng),
        _poly((0.5 - gap, eye_y), (0.5 - gap, eye_y + dash)),
        _poly((0.5 + gap, eye_y), (0.5 + gap, eye_y + dash)),
    ]
    width, depth = rng.uniform(0.15, 0.25), rng.uniform(0.08, 0.2)
    if mouth == 0:
        out.append(_arc(0.5, 0.58, width, depth, 20, 160, 20))  # a smile
    elif mouth == 1:
        out.append(_arc(0.5, 0.78, width, depth, 200, 340, 20))  # a frown
    else:
        out.append(_poly((0.5 - width, 0.68), (0.5 + width, 0.68)))
    if rng.random() < 0.3:
        out.append(_poly((0.5, 0.45), (0.47, 0.55), (0.52, 0.55)))
    return out


SHAPES_TRAIN = {
    f.__name__: f for f in (star, star_outline, triangle, square, arrow, spiral, tick, house, diamond, lightning, face)
}

# ------------------------------------------------------------------------------------------
# Scribbles and doodles.


def random_walk(rng):
    """Train-side: a smoothed random walk, one stroke."""
    n = int(rng.integers(60, 300))
    steps = rng.normal(size=(n, 2))
    k = np.hanning(int(rng.integers(5, 25)))
    k /= k.sum()
    steps = np.stack([np.convolve(steps[:, d], k, "same") for d in range(2)], 1)
    return [np.cumsum(steps, 0)]


def hatching(rng):
    """Train-side: a few straight random strokes."""
    return [rng.uniform(0, 1, size=(2, 2)) for _ in range(int(rng.integers(3, 8)))]


def _catmull(points: np.ndarray, n: int = 12) -> np.ndarray:
    p = np.vstack([points[:1], points, points[-1:]])
    out = []
    for i in range(1, len(p) - 2):
        t = np.linspace(0, 1, n, endpoint=False)[:, None]
        p0, p1, p2, p3 = p[i - 1], p[i], p[i + 1], p[i + 2]
        out.append(
            0.5
            * (2 * p1 + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2 + (-p0 + 3 * p1 - 3 * p2 + p3) * t**3)
        )
    out.append(points[-1:])
    return np.vstack(out)


def _primitive(rng) -> np.ndarray:
    c = rng.uniform(0.2, 0.8, 2)
    r = rng.uniform(0.08, 0.35, 2)
    kind = rng.integers(6)
    if kind == 0:  # ellipse or arc
        a0 = rng.uniform(0, 360)
        return _arc(c[0], c[1], r[0], r[1], a0, a0 + rng.choice([360, rng.uniform(90, 300)]), 40)
    if kind == 1:  # line
        return np.array([c - r, c + r * rng.choice([-1, 1], 2)])
    if kind == 2:  # polygon
        k = int(rng.integers(3, 6))
        a = np.sort(rng.uniform(0, 2 * math.pi, k))
        p = np.stack([c[0] + r[0] * np.cos(a), c[1] + r[1] * np.sin(a)], 1)
        return np.vstack([p, p[:1]])
    if kind == 3:  # polyline
        return rng.uniform(0, 1, size=(int(rng.integers(3, 5)), 2)) * r * 2 + c - r
    if kind == 4:  # dot
        return np.array([c, c + 0.01])
    return _catmull(rng.uniform(0, 1, size=(int(rng.integers(3, 6)), 2)) * r * 2 + c - r)  # curve


def doodle(rng):
    """Train-side: 2-6 random primitives (ellipses, arcs, lines, polygons, dots, curves) anywhere."""
    return [_primitive(rng) for _ in range(int(rng.integers(2, 7)))]


def random_glyph(rng):
    """Train-side: 1-3 smooth or angular strokes through 3-6 random points (letter-like, rarely a digit)."""
    out = []
    for _ in range(int(rng.integers(1, 4))):
        pts = rng.uniform(0, 1, size=(int(rng.integers(3, 7)), 2))
        out.append(_catmull(pts) if rng.random() < 0.6 else pts)
    return out


# ------------------------------------------------------------------------------------------
# Sets and the training bank.


def glyph_strokes(char: str, fonts: tuple[str, ...], rng: np.random.Generator) -> Strokes:
    """The strokes of `char` in one of `fonts` (Hershey), picked at random."""
    for _ in range(10):
        strokes = hershey_glyph(char, str(rng.choice(fonts)))
        if strokes:
            return strokes
    raise ValueError(f"no font draws {char!r}")


def trainable(alphabet: str) -> str:
    """The characters of `alphabet` a model may learn to refuse (DIGIT_LIKE taken out)."""
    return "".join(c for c in alphabet if c not in DIGIT_LIKE)


def canvas_image(kind: str, rng: np.random.Generator) -> np.ndarray:
    """One train-side non-digit of `kind` (KINDS) on a canvas-like image (uint8, white paper)."""
    if kind in ("letters_stroke", "signs_stroke"):
        chars = trainable(LETTERS if kind == "letters_stroke" else SIGNS)
        return draw(glyph_strokes(str(rng.choice(list(chars))), HERSHEY_TRAIN, rng), rng)
    if kind in ("letters_ttf", "signs_ttf"):
        chars = trainable(LETTERS if kind == "letters_ttf" else SIGNS)
        return font_glyph(str(rng.choice(list(chars))), str(TTF_TRAIN[rng.integers(len(TTF_TRAIN))]), rng)
    if kind == "shapes":
        return draw(list(SHAPES_TRAIN.values())[rng.integers(len(SHAPES_TRAIN))](rng), rng)
    if kind == "scribbles":
        return draw((random_walk, hatching)[rng.integers(2)](rng), rng, wobble=0.5)
    if kind == "doodles":
        return draw((doodle, random_glyph)[rng.integers(2)](rng), rng)
    raise ValueError(f"unknown kind {kind!r}; one of {', '.join(KINDS)}")


# What a chunk holds: each kind in turn (doodles twice: the most varied, and they paid most in the research).
KINDS = ("letters_stroke", "letters_ttf", "signs_stroke", "signs_ttf", "shapes", "scribbles", "doodles", "doodles")


def make(n: int, seed: int) -> np.ndarray:
    """n train-side non-digits as 28x28 uint8 images (ink high), preprocessed as drawings are."""
    from .preprocess import to_mnist

    rng = np.random.default_rng([BANK_VERSION, seed])
    out = np.zeros((n, 28, 28), np.uint8)
    made = 0
    while made < n:
        small = to_mnist(canvas_image(KINDS[made % len(KINDS)], rng))
        if small is not None:  # a stroke drawn off the canvas: none of it shows
            out[made] = np.round(small * 255).astype(np.uint8)
            made += 1
    return out


def chunk_path(index: int, root: str | os.PathLike | None = None) -> Path:
    return data_dir(root) / "nondigits" / f"v{BANK_VERSION}-{index:03d}.npy"


def bank(n: int, root: str | os.PathLike | None = None, log=print) -> torch.Tensor:
    """At least n train-side non-digits (uint8, (N, 28, 28), N a multiple of CHUNK): the chunks cached
    under the data folder, each made once (seed = its index) and written atomically."""
    chunks = []
    for index in range(max(1, math.ceil(n / CHUNK))):
        path = chunk_path(index, root)
        if not path.exists():
            log(f"making non-digits for training: {index * CHUNK:,}-{(index + 1) * CHUNK:,} ({path})")
            path.parent.mkdir(parents=True, exist_ok=True)
            images = make(CHUNK, index)
            atomic_write(path, lambda fh, images=images: np.save(fh, images), durable=False)
        chunks.append(np.load(path))
    return torch.from_numpy(np.concatenate(chunks))
