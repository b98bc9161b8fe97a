"""to_mnist: every way a digit can arrive gives the same MNIST-style 28x28 image; blanks give None."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mnist_core.predict import Predictor
from mnist_core.preprocess import ImageError, to_mnist, to_mnist_batch
from tests.support.sketchset import make_sketch, make_sketch_set

# A "4" (asymmetric, so flips and shifts show) as strokes in the unit square, and a "7".
FOUR = [(0.65, 0.95), (0.65, 0.05), (0.1, 0.65), (0.9, 0.65)]
SEVEN = [(0.1, 0.05), (0.9, 0.05), (0.35, 0.95)]


def draw(width: int, height: int, box: tuple[float, float, float, float], strokes=FOUR, pen: float = 0.1) -> np.ndarray:
    """Ink map (uint8, 255 = ink) of a digit drawn inside `box` (fractions x0, y0, x1, y1) of the canvas."""
    x0, y0, x1, y1 = (v * s for v, s in zip(box, (width, height, width, height)))
    pen_px = max(1, round(pen * (y1 - y0)))
    points = [(x0 + (x1 - x0) * x, y0 + (y1 - y0) * y) for x, y in strokes]
    image = Image.new("L", (width, height), 0)
    ImageDraw.Draw(image).line(points, fill=255, width=pen_px, joint="curve")
    return np.asarray(image)


INK = draw(600, 500, (0.55, 0.1, 0.8, 0.55))  # off-centre, top right of a non-square canvas


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    digit = to_mnist(INK)
    assert digit is not None
    return digit


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def transparent(ink: np.ndarray) -> np.ndarray:
    """What Gradio's Sketchpad sends: black strokes, coverage in the alpha channel."""
    rgba = np.zeros((*ink.shape, 4), dtype=np.uint8)
    rgba[..., 3] = ink
    return rgba


def black_on_white(ink: np.ndarray) -> np.ndarray:
    return np.repeat((255 - ink)[..., None], 3, axis=2)


def grey_photo(ink: np.ndarray, seed: int = 0) -> np.ndarray:
    """Grey paper, lighting gradient, sensor noise, dark ink; RGB uint8."""
    rng = np.random.default_rng(seed)
    height, width = ink.shape
    # Light falls off by 50 levels across the sheet: more than the ink threshold.
    light = 175 + 18 * np.linspace(-1, 1, width)[None, :] + 7 * np.linspace(-1, 1, height)[:, None]
    coverage = ink / 255.0
    gray = light * (1 - coverage) + 50 * coverage + rng.normal(0, 4, size=ink.shape)
    return np.clip(np.repeat(gray[..., None], 3, axis=2) * [1.0, 0.98, 0.95], 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------------------------
# The output itself.


def test_result_looks_like_mnist(reference):
    assert reference.shape == (28, 28) and reference.dtype == np.float32
    assert reference.min() >= 0.0 and reference.max() == pytest.approx(1.0, abs=1e-6)
    total = reference.sum()
    row = reference.sum(axis=1) @ np.arange(28) / total
    col = reference.sum(axis=0) @ np.arange(28) / total
    # Integer shifts as in MNIST put the centre of mass within half a pixel of (14, 14).
    assert abs(row - 14) <= 0.5 and abs(col - 14) <= 0.5
    rows, cols = np.nonzero(reference > 0.05)
    assert 19 <= max(np.ptp(rows), np.ptp(cols)) + 1 <= 20
    # The "4" is taller than wide and keeps its aspect ratio (about 0.25*600 : 0.45*500).
    assert np.ptp(rows) > np.ptp(cols)


def test_faint_pencil_is_normalised_to_full_ink(reference):
    faint = (INK * 0.3).astype(np.uint8)  # pale strokes on black
    paper = 255 - faint  # pale grey pencil on white
    for image in (faint, paper):
        digit = to_mnist(image)
        assert digit.max() == pytest.approx(1.0)
        assert correlation(digit, reference) > 0.9


def test_thin_brush_strokes_are_thickened(reference):
    # A 2 px brush on an 800 px canvas would shrink to a faint 0.1 px hairline.
    thin = to_mnist(transparent(draw(800, 800, (0.3, 0.1, 0.7, 0.9), pen=0.003)))
    assert correlation(thin, reference) > 0.8
    assert thin.sum() > 0.6 * reference.sum()


# --------------------------------------------------------------------------------------------
# The same digit in every format gives the same result.


def _rgba_with_white_transparent(ink: np.ndarray) -> np.ndarray:
    rgba = transparent(ink)
    rgba[ink == 0, :3] = 255  # RGB of fully transparent pixels is meaningless: here white
    return rgba


def _paper_on_transparent(ink: np.ndarray) -> np.ndarray:
    """An opaque black-on-white picture with transparent margins."""
    rgba = np.zeros((*ink.shape, 4), dtype=np.uint8)
    rgba[20:-20, 20:-20, :3] = black_on_white(ink)[20:-20, 20:-20]
    rgba[20:-20, 20:-20, 3] = 255
    return rgba


def _opaque_rgba(ink: np.ndarray) -> np.ndarray:
    return np.dstack([black_on_white(ink), np.full(ink.shape, 255, np.uint8)])


ARRAY_FORMATS = {
    "rgba_transparent": transparent,
    "rgba_transparent_white_rgb": _rgba_with_white_transparent,
    "rgba_paper_on_transparent": _paper_on_transparent,
    "rgba_opaque": _opaque_rgba,
    "rgb_black_on_white": black_on_white,
    "grey_paper_photo": grey_photo,
    "l_white_on_black_moved": lambda ink: np.pad(ink, ((300, 0), (0, 200))),
    "l_small_28px": lambda ink: np.asarray(Image.fromarray(ink).crop((300, 0, 550, 300)).resize((28, 28))),
    "float_0_1": lambda ink: ink.astype(np.float32) / 255,
    "float_0_255": lambda ink: ink.astype(np.float64),
    "bool": lambda ink: ink > 127,
    "uint16": lambda ink: ink.astype(np.uint16) * 257,
    "la": lambda ink: np.dstack([np.zeros_like(ink), ink]),
    "single_channel_3d": lambda ink: ink[..., None],
}


@pytest.mark.parametrize("name", ARRAY_FORMATS)
def test_array_formats_agree(name, reference):
    digit = to_mnist(ARRAY_FORMATS[name](INK))
    assert digit is not None and digit.shape == (28, 28) and digit.dtype == np.float32
    assert correlation(digit, reference) > 0.9


PIL_FORMATS = {
    "L": lambda ink: Image.fromarray(ink),
    "RGB": lambda ink: Image.fromarray(black_on_white(ink)),
    "RGBA": lambda ink: Image.fromarray(transparent(ink)),
    "LA": lambda ink: Image.fromarray(ink).convert("LA"),
    "1": lambda ink: Image.fromarray(ink).convert("1", dither=Image.Dither.NONE),
    "P": lambda ink: Image.fromarray(black_on_white(ink)).convert("P", palette=Image.Palette.ADAPTIVE, colors=8),
    "I;16": lambda ink: Image.fromarray((255 - ink).astype(np.uint16) * 257),
    "I": lambda ink: Image.fromarray(ink.astype(np.int32) * 100),
    "CMYK": lambda ink: Image.fromarray(black_on_white(ink)).convert("CMYK"),
}


@pytest.mark.parametrize("mode", PIL_FORMATS)
def test_pil_modes_agree(mode, reference):
    image = PIL_FORMATS[mode](INK)
    assert image.mode == mode
    assert correlation(to_mnist(image), reference) > 0.9


def _save_palette_png(path: Path) -> None:
    Image.fromarray(black_on_white(INK)).convert("P", palette=Image.Palette.ADAPTIVE, colors=16).save(path)


def _save_palette_png_transparent(path: Path) -> None:
    # Index 0 is transparent, index 1 black ink: a P image whose ink lives in the transparency.
    image = Image.fromarray((INK > 127).astype(np.uint8), "P")
    image.putpalette([255, 255, 255, 0, 0, 0])
    image.save(path, transparency=0)


def _save_png16(path: Path) -> None:
    Image.fromarray((255 - INK).astype(np.uint16) * 257).save(path)


def _save_gif(path: Path) -> None:
    first = Image.fromarray(black_on_white(INK))
    second = Image.fromarray(black_on_white(draw(600, 500, (0.1, 0.4, 0.4, 0.9), SEVEN)))
    first.save(path, save_all=True, append_images=[second], duration=100, loop=0)


FILE_FORMATS = {
    "palette.png": _save_palette_png,
    "palette_transparent.png": _save_palette_png_transparent,
    "gray16.png": _save_png16,
    "animated.gif": _save_gif,
    "photo.jpg": lambda path: Image.fromarray(grey_photo(INK)).save(path, quality=40),
    "sketch.png": lambda path: Image.fromarray(transparent(INK)).save(path),
    "sketch.webp": lambda path: Image.fromarray(transparent(INK)).save(path, lossless=True),
}


@pytest.mark.parametrize("name", FILE_FORMATS)
def test_files_agree(name, tmp_path, reference):
    path = tmp_path / name
    FILE_FORMATS[name](path)
    assert correlation(to_mnist(path), reference) > 0.9
    assert correlation(to_mnist(str(path)), reference) > 0.9


def test_animated_gif_uses_first_frame(tmp_path, reference):
    path = tmp_path / "animated.gif"
    _save_gif(path)
    with Image.open(path) as image:
        image.seek(1)  # even when the caller left it on another frame
        assert correlation(to_mnist(image), reference) > 0.9


def test_exif_orientation_is_applied(tmp_path, reference):
    # Phones store portrait shots sideways with EXIF orientation 6 ("turn 90 degrees clockwise").
    stored = Image.fromarray(black_on_white(INK)).transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    stored.save(tmp_path / "phone.jpg", exif=exif, quality=90)
    assert correlation(to_mnist(tmp_path / "phone.jpg"), reference) > 0.9


def test_gradio_editor_dicts(tmp_path, reference):
    sketch = transparent(INK)
    white = np.full((*INK.shape, 4), 255, np.uint8)
    # Sketchpad value: composite on a transparent background.
    assert correlation(to_mnist({"background": None, "layers": [sketch], "composite": sketch}), reference) > 0.9
    # No composite: layers over the background (PIL and numpy mixed, a layer given as a file).
    Image.fromarray(sketch).save(tmp_path / "layer.png")
    value = {"background": Image.fromarray(white), "layers": [str(tmp_path / "layer.png")], "composite": None}
    assert correlation(to_mnist(value), reference) > 0.9
    value = {"background": None, "layers": [np.zeros_like(sketch), sketch], "composite": None}
    assert correlation(to_mnist(value), reference) > 0.9
    # Gradio FileData.
    assert correlation(to_mnist({"path": str(tmp_path / "layer.png")}), reference) > 0.9


def test_batch(reference):
    results = to_mnist_batch([INK, np.zeros_like(INK), black_on_white(INK)])
    assert results[1] is None
    assert correlation(results[0], reference) > 0.9 and correlation(results[2], reference) > 0.9


# --------------------------------------------------------------------------------------------
# No digit: None.


def _dot(radius: int) -> np.ndarray:
    ink = np.zeros((800, 800), np.uint8)
    yy, xx = np.mgrid[:800, :800]
    ink[(yy - 300) ** 2 + (xx - 500) ** 2 <= radius**2] = 255
    return ink


BLANKS = {
    "none": None,  # an empty gr.Image
    "empty_editor_dict": {"background": None, "layers": [], "composite": None},
    "empty_sketchpad": {"background": None, "layers": [np.zeros((800, 800, 4), np.uint8)], "composite": None},
    "transparent_composite": {"background": None, "layers": [], "composite": np.zeros((800, 800, 4), np.uint8)},
    "white_canvas": np.full((800, 800, 3), 255, np.uint8),
    "black_28px": np.zeros((28, 28), np.uint8),
    "uniform_grey": np.full((300, 400), 128, np.uint8),
    "barely_visible_smudge": np.pad(np.full((100, 100), 235, np.uint8), 50, constant_values=255),
    "blank_grey_paper_photo": grey_photo(np.zeros((500, 600), np.uint8)),
    "random_noise": np.random.default_rng(0).integers(0, 256, (300, 300, 3), dtype=np.uint8),
    "dot_on_sketchpad": transparent(_dot(6)),
    "dot_on_white": black_on_white(_dot(6)),
    "blob_on_sketchpad": transparent(_dot(12)),
    "single_pixel_28px": np.pad(np.full((1, 1), 255, np.uint8), ((13, 14), (13, 14))),
    "fully_inked_sketchpad": np.dstack([np.zeros((800, 800, 3), np.uint8), np.full((800, 800), 255, np.uint8)]),
    "scribbled_all_over": transparent(np.pad(np.full((790, 790), 255, np.uint8), 5)),
    "one_pixel": np.zeros((1, 1), np.uint8),
    "one_pixel_pil": Image.new("RGB", (1, 1), "white"),
}


@pytest.mark.parametrize("name", BLANKS)
def test_blank_inputs_give_none(name):
    assert to_mnist(BLANKS[name]) is None


def bar(height: int, width: int, left: int, bar_width: int, dark: bool = True) -> np.ndarray:
    """A vertical bar from the top edge to the bottom edge, `bar_width` px wide from column `left`."""
    image = np.full((height, width), 255 if dark else 0, np.uint8)
    image[:, left : left + bar_width] = 0 if dark else 255
    return image


@pytest.mark.parametrize("shape", [(40, 24), (24, 40)])
@pytest.mark.parametrize("dark", [True, False])
def test_a_one_cropped_tight_is_read(default_checkpoint, shape, dark):
    """Issue 19, defect 2: a '1' whose bar touches the top and bottom edges read "no digit"."""
    height, width = shape
    prediction = Predictor.from_checkpoint().predict(bar(height, width, width // 2 - 2, 4, dark))
    assert prediction.digit == 1 and prediction.confidence > 0.9, prediction


SOLID_EDGES = {
    "dark_strip_along_the_left_side": bar(300, 300, 0, 40),
    "dark_strip_along_the_right_side": bar(300, 300, 260, 40),
    "wide_dark_band_across": bar(300, 300, 100, 100),
    "horizontal_dark_band": bar(300, 300, 130, 40).T.copy(),
}


@pytest.mark.parametrize("name", SOLID_EDGES)
def test_solid_areas_reaching_the_edge_that_are_no_bar_give_none(name):
    assert to_mnist(SOLID_EDGES[name]) is None


# --------------------------------------------------------------------------------------------
# Large images.


def test_5000px_array(reference):
    ink = draw(5000, 5000, (0.4, 0.3, 0.55, 0.57))
    assert correlation(to_mnist(ink), reference) > 0.9


def test_8000px_png_file(tmp_path, reference):
    image = Image.new("L", (8000, 8000), 255)
    x0, y0, x1, y1 = 4000, 2000, 5500, 4700
    points = [(x0 + (x1 - x0) * x, y0 + (y1 - y0) * y) for x, y in FOUR]
    ImageDraw.Draw(image).line(points, fill=0, width=270, joint="curve")
    path = tmp_path / "huge.png"
    image.save(path, compress_level=1)
    assert correlation(to_mnist(path), reference) > 0.9


def _png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG that declares a huge size but holds no pixel data: only the header may be read."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b""))


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # PIL warns above 89 MP
@pytest.mark.parametrize("side", [12_000, 30_000])
def test_decompression_bomb_is_refused(tmp_path, side):
    path = tmp_path / "bomb.png"
    _png_header_only(path, side, side)
    with pytest.raises(ImageError, match="too large"):
        to_mnist(path)


# --------------------------------------------------------------------------------------------
# Unreadable input: ImageError with a human message.


def test_truncated_png(tmp_path):
    path = tmp_path / "truncated.png"
    Image.fromarray(grey_photo(INK)).save(path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ImageError, match="cannot decode .*truncated.png"):
        to_mnist(path)


def test_text_file_renamed_png(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("this is not an image\n")
    with pytest.raises(ImageError, match="not an image file"):
        to_mnist(path)


@pytest.mark.parametrize("cut", [30, 200])
def test_truncated_jpeg_header(tmp_path, cut):
    data = (tmp_path / "photo.jpg").as_posix()
    Image.fromarray(grey_photo(INK)).save(data, quality=80)
    path = tmp_path / "cut.jpg"
    path.write_bytes(Path(data).read_bytes()[:cut])
    with pytest.raises(ImageError, match="cut.jpg"):
        to_mnist(path)


def test_missing_file(tmp_path):
    with pytest.raises(ImageError, match="no such image file"):
        to_mnist(tmp_path / "missing.png")


BAD_ARRAYS = {
    "1d": (np.zeros(5, np.uint8), "shape"),
    "5_channels": (np.zeros((10, 10, 5), np.uint8), "shape"),
    "4d": (np.zeros((1, 10, 10, 3), np.uint8), "shape"),
    "zero_size": (np.zeros((0, 10), np.uint8), "empty"),
    "complex": (np.zeros((10, 10), np.complex64), "dtype"),
    "strings": (np.full((10, 10), "a"), "dtype"),
    "nan": (np.full((10, 10), np.nan, np.float32), "NaN"),
    "negative_float": (np.full((10, 10), -0.5, np.float32), r"\[0, 1\]"),
    "float_too_large": (np.full((10, 10), 300.0), r"\[0, 1\]"),
    "negative_int": (np.full((10, 10), -1, np.int16), "negative"),
}


@pytest.mark.parametrize("name", BAD_ARRAYS)
def test_bad_arrays(name):
    array, message = BAD_ARRAYS[name]
    with pytest.raises(ImageError, match=message):
        to_mnist(array)


@pytest.mark.parametrize("value", [42, [[0, 1], [1, 0]], {"foo": 1}])
def test_unsupported_types(value):
    with pytest.raises(ImageError):
        to_mnist(value)


def test_image_error_is_a_value_error():
    assert issubclass(ImageError, ValueError)


# --------------------------------------------------------------------------------------------
# The sketch test set: what make_sketch produces must read back as the digit it was made from.


def mnist_like(strokes: list[tuple[float, float]]) -> np.ndarray:
    """A synthetic MNIST sample: uint8 28x28, white on black, 20 px box, centred by mass."""
    return np.rint(to_mnist(draw(280, 280, (0.2, 0.1, 0.8, 0.9), strokes, pen=0.12)) * 255).astype(np.uint8)


def aligned_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Best correlation over shifts of up to 1 px (centring by mass rounds to whole pixels)."""
    return max(correlation(np.roll(a, (dy, dx), (0, 1)), b) for dy in (-1, 0, 1) for dx in (-1, 0, 1))


def sketch_style(sketch: np.ndarray) -> str:
    if sketch.shape[2] == 4:
        return "transparent"
    return "white" if sketch[0].mean() > 240 else "grey paper"


def test_sketches_read_back_as_their_digit():
    styles = set()
    rng = np.random.default_rng(0)
    for strokes in (FOUR, SEVEN):
        digit = mnist_like(strokes)
        expected = to_mnist(digit)
        for _ in range(9):
            sketch = make_sketch(digit, rng)
            assert sketch.dtype == np.uint8 and sketch.shape[2] in (3, 4)
            assert 400 <= sketch.shape[0] == sketch.shape[1] <= 800
            styles.add(sketch_style(sketch))
            assert aligned_correlation(to_mnist(sketch), expected) > 0.85, sketch_style(sketch)
    assert styles == {"transparent", "white", "grey paper"}


def test_a_sketch_style_can_be_asked_for():
    rng = np.random.default_rng(0)
    digit = mnist_like(SEVEN)
    assert {sketch_style(make_sketch(digit, rng, style="transparent")) for _ in range(4)} == {"transparent"}
    assert sketch_style(make_sketch(digit, rng, style="grey_paper")) == "grey paper"
    with pytest.raises(ValueError, match="style must be one of transparent, jpeg_white, grey_paper"):
        make_sketch(digit, rng, style="pencil")


def test_sketch_set_is_deterministic():
    images = np.stack([mnist_like(FOUR), mnist_like(SEVEN)] * 3)
    labels = np.array([4, 7] * 3)
    first, first_labels = make_sketch_set(images, labels, 4, seed=1)
    again, again_labels = make_sketch_set(images, labels, 4, seed=1)
    assert len(first) == 4 and np.array_equal(first_labels, again_labels)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    # A smaller set with the same seed is a prefix of the larger one.
    fewer, fewer_labels = make_sketch_set(images, labels, 2, seed=1)
    assert all(np.array_equal(a, b) for a, b in zip(first, fewer)) and np.array_equal(fewer_labels, first_labels[:2])
    other, _ = make_sketch_set(images, labels, 4, seed=2)
    assert not all(a.shape == b.shape and np.array_equal(a, b) for a, b in zip(first, other))


def test_sketch_set_checks_its_input():
    with pytest.raises(ValueError, match="28, 28"):
        make_sketch_set(np.zeros((3, 32, 32), np.uint8), np.zeros(3), 1)
    with pytest.raises(ValueError, match="n must"):
        make_sketch_set(np.zeros((3, 28, 28), np.uint8), np.zeros(3), 4)


@pytest.mark.parametrize("bug", [TypeError, IndexError])
def test_a_programming_error_while_decoding_is_not_reported_as_a_corrupt_file(monkeypatch, tmp_path, bug):
    """Only decoding failures become "the file may be corrupt"; a bug in our code surfaces as itself."""
    from PIL import Image

    import mnist_core.preprocess as preprocess

    path = tmp_path / "seven.png"
    Image.new("L", (28, 28), 255).save(path)

    def broken(image):
        raise bug("a bug in our own code")

    monkeypatch.setattr(preprocess, "_normalise_mode", broken)
    with pytest.raises(bug, match="a bug in our own code"):
        preprocess.to_mnist(str(path))


# How a camera stores an upright picture for each EXIF orientation (the EXIF specification's meaning,
# written out here independently of preprocess's own table): orientation 6 is "rotate 90 degrees
# clockwise to view", so the stored image is the upright one turned 90 degrees counter-clockwise.
STORED_FOR_ORIENTATION = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


@pytest.mark.parametrize("orientation", sorted(STORED_FOR_ORIENTATION))
@pytest.mark.parametrize("fmt", ["jpg", "png"])
def test_every_exif_orientation_is_turned_upright(tmp_path, reference, orientation, fmt):
    upright = Image.fromarray(black_on_white(INK))
    how = STORED_FOR_ORIENTATION[orientation]
    stored = upright if how is None else upright.transpose(how)
    exif = Image.Exif()
    exif[0x0112] = orientation
    stored.save(tmp_path / f"photo.{fmt}", exif=exif)
    assert correlation(to_mnist(tmp_path / f"photo.{fmt}"), reference) > 0.9
    if orientation != 1:  # the test can fail: read without its tag, the stored picture is another shape
        stored.save(tmp_path / f"untagged.{fmt}")
        assert correlation(to_mnist(tmp_path / f"untagged.{fmt}"), reference) < 0.8
