"""Generated non-digits drawn as a visitor would draw them on the Draw tab's canvas.

Every generator returns strokes: a list of (n, 2) float arrays in a unit box (x right, y down).
`draw(strokes, rng)` renders them as the canvas does (white paper, black round pen of
max(8, round(side / 13)) px, joints and caps round) with hand jitter and a random affine; the result
goes through the app's own preprocessing (mnist_core.preprocess.to_mnist) like any drawing.
Letters also come from TrueType fonts rendered with PIL (`font_glyph`).

Kinds (KINDS) are split into TRAIN-side generators/fonts (for fitting thresholds or training an
outlier head) and HELD-OUT ones (testing only): different fonts, different shapes, different
scribble generators. NEVER use Debian's handwriting font packages here (an outside check uses them).
"""

from __future__ import annotations

import math
import os
import sys

import numpy as np
from PIL import Image, ImageDraw, ImageFont

# Hershey-Fonts (PyPI) installed with `pip install --target pkgs` beside this file; delete its bundled `tests` package,
# which shadows the repository's.
sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), "pkgs"))

Strokes = list[np.ndarray]

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
SIGNS = "+-=?!@#&%*/<>$~^()[]{}:;\\|"
# Glyphs a person could well take for a digit (or that MNIST writers draw the same way): reported apart.
DIGIT_LIKE = set("OoQDIlij|/\\()[]ZzSsbBgqGTJy&") | {"-"}  # '-' and '|': a bare stroke (1 / lying 1)
# A stricter list: the glyphs that are drawn exactly as a digit is (0, 1, 2, 5, 6, 8, 9).
DIGIT_TWINS = set("OoIl|ZzSsbBgq")

HERSHEY_TRAIN = ("futural", "rowmans", "scripts")  # single-stroke fonts: drawn as a pen would
HERSHEY_HELD = ("cursive", "futuram", "rowmand")
FONT_DIR = "/usr/share/fonts/truetype"
TTF_TRAIN = tuple(
    f"{FONT_DIR}/dejavu/{n}.ttf" for n in ("DejaVuSans", "DejaVuSerif", "DejaVuSans-Oblique", "DejaVuSansMono")
)
TTF_HELD = tuple(
    f"{FONT_DIR}/liberation/{n}.ttf"
    for n in ("LiberationSans-Regular", "LiberationSerif-Italic", "LiberationMono-Regular", "LiberationSansNarrow-Bold")
)

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
    target = height * rng.uniform(0.35, 0.8)
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
# Shapes and objects (unit box, y down).


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


# held-out shapes
def smiley(rng):
    return [
        circle(rng),
        _arc(0.5, 0.55, 0.22, rng.uniform(0.1, 0.2), 20, 160, 20),
        _poly((0.37, 0.35), (0.37, 0.4)),
        _poly((0.63, 0.35), (0.63, 0.4)),
    ]


def heart(rng):
    t = np.linspace(0, 2 * math.pi, 120)
    x = 16 * np.sin(t) ** 3
    y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
    return [np.stack([x, y], 1) / 34 + 0.5]


def circle_cross(rng):
    return [circle(rng), _poly((0.5, 0.05), (0.5, 0.95)), _poly((0.05, 0.5), (0.95, 0.5))]


def cross_mark(rng):
    return [_poly((0.1, 0.1), (0.9, 0.9)), _poly((0.9, 0.1), (0.1, 0.9))]


def sun(rng):
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


def cat(rng):
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


def tree(rng):
    return [
        _poly((0.45, 0.95), (0.45, 0.65), (0.55, 0.65), (0.55, 0.95)),
        _poly((0.45, 0.65), (0.15, 0.65), (0.5, 0.05), (0.85, 0.65), (0.55, 0.65)),
    ]


def flower(rng):
    out = [circle(rng, r=0.08, cy=0.3)]
    for i in range(6):
        a = i * math.pi / 3
        out.append(_arc(0.5 + 0.17 * math.cos(a), 0.3 + 0.17 * math.sin(a), 0.09, 0.09, 0, 360, 24))
    out.append(_poly((0.5, 0.47), (0.5, 0.98)))
    out.append(_arc(0.6, 0.75, 0.1, 0.05, 0, 360, 20))
    return out


def fish(rng):
    return [
        _arc(0.45, 0.5, 0.3, 0.18, 0, 360, 60),
        _poly((0.75, 0.5), (0.95, 0.3), (0.95, 0.7), (0.75, 0.5)),
        _poly((0.3, 0.45), (0.3, 0.47)),
    ]


def cloud(rng):
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


def envelope(rng):
    return [
        _poly((0.05, 0.2), (0.95, 0.2), (0.95, 0.8), (0.05, 0.8), close=True),
        _poly((0.05, 0.2), (0.5, 0.55), (0.95, 0.2)),
    ]


def stick_figure(rng):
    return [
        circle(rng, cy=0.15, r=0.12),
        _poly((0.5, 0.27), (0.5, 0.65)),
        _poly((0.25, 0.45), (0.5, 0.38), (0.75, 0.45)),
        _poly((0.3, 0.95), (0.5, 0.65), (0.7, 0.95)),
    ]


SHAPES_TRAIN = {
    f.__name__: f for f in (star, star_outline, triangle, square, arrow, spiral, tick, house, diamond, lightning)
}
SHAPES_HELD = {f.__name__: f for f in (smiley, heart, circle_cross, cross_mark, sun, envelope)}
OBJECTS_HELD = {f.__name__: f for f in (cat, tree, flower, fish, cloud, stick_figure)}

# ------------------------------------------------------------------------------------------
# Scribbles.


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


def bezier_squiggle(rng):
    """Held-out: chained cubic Beziers through random points, 1-3 strokes."""
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


def loops(rng):
    """Held-out: cursive-like loops ('eeee', 'llll'), a trochoid."""
    n = rng.uniform(3, 7)
    t = np.linspace(0, n * 2 * math.pi, 400)
    r = rng.uniform(0.5, 1.2)
    return [
        np.stack(
            [
                t / (2 * math.pi) * rng.uniform(0.6, 1.2) - r * np.sin(t) * 0.3,
                -r * np.cos(t) * 0.3 * rng.uniform(1, 2.5),
            ],
            1,
        )
    ]


def zigzag(rng):
    """Held-out: a zigzag or sawtooth (rows of peaks), one stroke."""
    k = int(rng.integers(3, 9))
    xs = np.linspace(0, 1, 2 * k + 1)
    ys = np.where(np.arange(2 * k + 1) % 2 == 0, 0.0, rng.uniform(0.3, 1.0))
    return [np.stack([xs, ys + rng.normal(0, 0.05, len(xs))], 1)]


def scrawl(rng):
    """Held-out: a tangle, many overlapping random ellipse arcs."""
    return [
        _arc(
            *rng.uniform(0.3, 0.7, 2), *rng.uniform(0.1, 0.35, 2), a0 := rng.uniform(0, 360), a0 + rng.uniform(120, 540)
        )
        for _ in range(int(rng.integers(3, 6)))
    ]


SCRIBBLES_TRAIN = {f.__name__: f for f in (random_walk, hatching)}
SCRIBBLES_HELD = {f.__name__: f for f in (bezier_squiggle, loops, zigzag, scrawl)}

# ------------------------------------------------------------------------------------------
# Sets.


def glyph_strokes(char: str, fonts: tuple[str, ...], rng) -> Strokes:
    for _ in range(10):
        s = hershey_glyph(char, str(rng.choice(fonts)))
        if s:
            return s
    raise ValueError(f"no font draws {char!r}")


def generate(side: str, n_per_kind: int, seed: int = 0) -> dict[str, list[tuple[str, np.ndarray]]]:
    """{kind: [(name, canvas image uint8)]} for side 'train' or 'held'. Names: glyph char or generator."""
    rng = np.random.default_rng([seed, 0 if side == "train" else 1])
    hers = HERSHEY_TRAIN if side == "train" else HERSHEY_HELD
    ttfs = TTF_TRAIN if side == "train" else TTF_HELD
    shapes = SHAPES_TRAIN if side == "train" else {**SHAPES_HELD}
    scribbles = SCRIBBLES_TRAIN if side == "train" else SCRIBBLES_HELD
    out: dict[str, list] = {}

    def chars(alphabet, n):
        return [alphabet[i % len(alphabet)] for i in rng.permutation(max(n, len(alphabet)))[:n]]

    out["letters_stroke"] = [(c, draw(glyph_strokes(c, hers, rng), rng)) for c in chars(LETTERS, n_per_kind)]
    out["letters_ttf"] = [(c, font_glyph(c, str(rng.choice(ttfs)), rng)) for c in chars(LETTERS, n_per_kind)]
    out["signs_stroke"] = [(c, draw(glyph_strokes(c, hers, rng), rng)) for c in chars(SIGNS, n_per_kind)]
    out["signs_ttf"] = [(c, font_glyph(c, str(rng.choice(ttfs)), rng)) for c in chars(SIGNS, n_per_kind)]
    names = list(shapes)
    out["shapes"] = [(nm, draw(shapes[nm](rng), rng)) for nm in (names[i % len(names)] for i in range(n_per_kind))]
    if side == "held":
        names = list(OBJECTS_HELD)
        out["objects"] = [
            (nm, draw(OBJECTS_HELD[nm](rng), rng)) for nm in (names[i % len(names)] for i in range(n_per_kind))
        ]
    names = list(scribbles)
    out["scribbles"] = [
        (nm, draw(scribbles[nm](rng), rng, wobble=0.5)) for nm in (names[i % len(names)] for i in range(n_per_kind))
    ]
    return out


def to_inputs(images: dict[str, list[tuple[str, np.ndarray]]]):
    """Preprocess every image as a drawing; returns {kind: (names, X (N,28,28) float32)}; None results dropped."""
    from mnist_core.preprocess import to_mnist

    out = {}
    for kind, items in images.items():
        names, xs = [], []
        for name, img in items:
            x = to_mnist(img)
            if x is not None:
                names.append(name)
                xs.append(x)
        out[kind] = (np.array(names), np.stack(xs).astype(np.float32))
    return out


# ------------------------------------------------------------------------------------------
# Train-side procedural doodles: random compositions of primitives, and random letter-like glyphs.


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


DOODLES_TRAIN = {f.__name__: f for f in (doodle, random_glyph)}


def generate_doodles(n: int, seed: int = 0) -> dict[str, list[tuple[str, np.ndarray]]]:
    rng = np.random.default_rng([seed, 2])
    return {nm: [(nm, draw(f(rng), rng)) for _ in range(n)] for nm, f in DOODLES_TRAIN.items()}
