"""Turn whatever image a user hands us into a 28x28 digit that looks like an MNIST sample.

MNIST digits are white ink on black, scaled so the longer side of the digit is 20 px, anti-aliased,
and placed in a 28x28 field with the centre of mass at (14, 14). A model trained on MNIST only
works on drawings and photos prepared the same way, so `to_mnist` does exactly that for:

- PIL images in any mode (animated: the first frame; EXIF orientation applied);
- numpy arrays (H, W), (H, W, 3) RGB, (H, W, 4) RGBA: uint8, bool, wider integers (scaled by
  their maximum) or floats in [0, 1];
- image file paths (str or Path) and encoded image bytes;
- Gradio Sketchpad / ImageEditor values {"background", "layers", "composite"} and FileData
  {"path"}; None (an empty component) gives None.

Ink is found from the alpha channel when the background is transparent, else from the distance
to the background gray (the median of the border), so black-on-white, white-on-black and photos of
grey paper all work. Strokes too wide for the digit's size (a small digit drawn with a big pen)
are thinned before it is scaled into its box. Unreadable input raises ImageError (a ValueError)
with a plain message.
"""

from __future__ import annotations

import io
import math
import os
import struct
import zlib
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from PIL import Image, ImageFilter, UnidentifiedImageError

MNIST_SIDE = 28
BOX_SIDE = 20  # longer side of the digit inside the 28x28 field, as in MNIST
CENTRE = 14.0  # where the centre of mass goes (row, col)
MAX_SIDE = 4096  # larger inputs are downscaled before any processing
MAX_PIXELS = 100_000_000  # refuse larger images: decoding them could exhaust memory (decompression bombs)

# Ink detection, on a 0..255 scale.
MIN_CONTRAST = 32  # ink must differ at least this much from the background, else the image is blank
NOISE_FLOOR = 0.12  # fraction of the contrast treated as paper noise / faint fringe and dropped
NOISE_SPREAD = 1.5  # also drop deviations up to 1.5x the border's 95th-percentile deviation (noise, shading)
NOISY = 4  # border spread (95th percentile) above which the image is smoothed before thresholding
MIN_GRADIENT = 8  # lighting change across the image (levels) worth correcting
# A digit cropped to its ink (no margin): the border's most common level, within +-EDGE_PEAK, is the
# background; border pixels within EDGE_TOLERANCE of it measure the noise, and they must make up at
# least EDGE_BACKGROUND of the border (MNIST digits cropped to their ink box: over 43% in 99 of 100).
EDGE_PEAK = 6
EDGE_TOLERANCE = 20
EDGE_BACKGROUND = 0.3
# A solid area reaching the edge is no digit (a dark half of a photo) unless it is a bar at least this
# many times taller than wide: a '1' cropped to its ink (MNIST's straight 1s: 5-10 times).
BAR_RATIO = 4
OPAQUE_ALPHA = 128  # alpha at or above which a pixel counts as opaque

# Readability: what counts as "no digit".
MIN_INK_PIXELS = 6
MIN_INK_FRACTION = 0.0005  # of the image area
MIN_BOX_FRACTION = 0.05  # digit's longer side relative to the image's longer side
MIN_BOX_PIXELS = 5
FULL_FILL = 0.9  # ink covering this much of a box that covers this much of the image: a filled canvas

# Strokes thinner than this (px, at the 20 px box scale) are thickened: MNIST strokes are ~2.3 px wide
# (median; a quarter are under 2), while a thin brush on a large canvas shrinks to a faint hairline.
# Measured with a small CNN: thin-stroke sketches gain 1-2 points of accuracy, MNIST digits lose 0.1-0.2.
MIN_STROKE = 2.0
# Strokes wider than MAX_STROKE_RATIO of the digit's longer side are eroded to THIN_STROKE_RATIO of it.
# MNIST test digits: median 0.11, 99th percentile 0.21 (1.6% are thinned, their readings unchanged); a
# digit drawn a fifth of the canvas high with the Draw tab's pen: 0.32. Measured on the test digits traced
# with that pen (tests/support/smallset.py): at 1/5 of the canvas 95% read right instead of 79%.
# THIN_SIDE: the longer side (px) a crop is thinned at.
MAX_STROKE_RATIO = 0.2
THIN_STROKE_RATIO = 0.15
THIN_SIDE = 160

_RESAMPLE = Image.Resampling.LANCZOS
EXIF_ORIENTATION = 0x0112
_ORIENT = {  # EXIF orientation -> the transpose that makes the image upright (as ImageOps.exif_transpose)
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# What PIL raises for a file it recognised but cannot decode (truncated, corrupt, a bomb). Not
# TypeError/IndexError/...: those are programming errors and must surface, not read as "corrupt".
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, struct.error, zlib.error, Image.DecompressionBombError)


class ImageError(ValueError):
    """The input cannot be read as an image; the message says why in plain words."""


def to_mnist(image: Any) -> np.ndarray | None:
    """Return a float32 (28, 28) MNIST-style digit in [0, 1] (ink high), or None if there is no digit."""
    found = find_ink(image)
    return None if found is None else ink_to_mnist(found.ink)


@dataclass
class InkMap:
    """The ink of an image (uint8, 255 = full ink) cropped to its box, and where that box lies."""

    ink: np.ndarray
    top: int  # the crop's first row and column in the loaded image
    left: int
    shape: tuple[int, int]  # (height, width) of the loaded image (inputs over MAX_SIDE px are downscaled)
    source: tuple[int, int]  # (height, width) of the input itself, upright: the frame input_box answers in

    def input_box(self, y0: int, x0: int, y1: int, x1: int) -> tuple[int, int, int, int]:
        """A box of the crop (rows y0:y1, columns x0:x1) as (x0, y0, x1, y1) in the input's own pixels.

        An input over MAX_SIDE px was read shrunk by an integer factor: each loaded pixel is a block of
        factor x factor input pixels, the last block of a row or column partial (the first one, after
        an EXIF flip), so the box grows by that partial block's shortfall to enclose every block read.
        """
        (height, width), (source_height, source_width) = self.shape, self.source
        factor = round(max(source_height, source_width) / max(height, width))  # exact: the longer side is > MAX_SIDE

        def span(start: int, stop: int, loaded: int, size: int) -> tuple[int, int]:
            shortfall = loaded * factor - size
            return max(0, start * factor - shortfall), min(size, stop * factor)

        left, right = span(self.left + x0, self.left + x1, width, source_width)
        top, bottom = span(self.top + y0, self.top + y1, height, source_height)
        return int(left), int(top), int(right), int(bottom)


def find_ink(image: Any) -> InkMap | None:
    """Load any supported input and find its ink; None when there is nothing that could be a digit."""
    loaded = _to_array(image)
    if loaded is None:
        return None
    pixels = loaded.pixels
    found = _ink_crop(pixels)
    if found is None or not _readable(found[0], pixels.shape[:2]):
        return None
    ink, (top, left) = found
    return InkMap(ink, top, left, pixels.shape[:2], loaded.source)


def load_image(image: Any) -> np.ndarray | None:
    """Any supported input as the uint8 array reading starts from (upright, at most MAX_SIDE px a side); None: none.

    For showing an input as it was read: the one place that opens files and applies EXIF orientation.
    """
    loaded = _to_array(image)
    return None if loaded is None else loaded.pixels


def ink_to_mnist(ink: np.ndarray) -> np.ndarray | None:
    """An ink crop (uint8) as a float32 (28, 28) MNIST digit: 20 px box, centred by mass; None if it vanishes."""
    digit = _fit_box(ink)
    return None if digit is None else _centre(digit)


def to_mnist_batch(images: Any) -> list[np.ndarray | None]:
    """to_mnist applied to each image of a sequence."""
    return [to_mnist(image) for image in images]


# --------------------------------------------------------------------------------------------
# Loading: every input becomes a uint8 array (H, W), (H, W, 2) LA, (H, W, 3) RGB or (H, W, 4) RGBA
# with both sides at most MAX_SIDE, or None for an empty Gradio dict.


class _Loaded(NamedTuple):
    """A loaded input: its bounded uint8 pixels and the (height, width) of the input itself, upright."""

    pixels: np.ndarray
    source: tuple[int, int]


def _to_array(image: Any) -> _Loaded | None:
    """Load any supported input as a uint8 array, or None for no image (None, an empty editor dict)."""
    if image is None:
        return None  # what an empty Gradio image component sends
    if isinstance(image, dict):
        return _from_editor(image)
    return _load(image)


def _load(image: Any) -> _Loaded:
    """Load one image (array, PIL image, path or encoded bytes) as a bounded uint8 array."""
    if isinstance(image, np.ndarray):
        pixels = _from_numpy(image)
        return _Loaded(_downscale_array(pixels), pixels.shape[:2])
    if isinstance(image, Image.Image):
        return _from_pil(image)
    if isinstance(image, (str, os.PathLike)):
        return _from_file(image)
    if isinstance(image, (bytes, bytearray, memoryview)):
        return _from_file(io.BytesIO(bytes(image)), name="image bytes")
    raise ImageError(
        f"unsupported image type {type(image).__name__}: expected a numpy array, PIL image, file path or editor dict"
    )


def _from_editor(data: dict) -> _Loaded | None:
    """Read a Gradio Sketchpad/ImageEditor value: the composite, else the layers over the background."""
    if not {"composite", "layers", "background"} & data.keys():
        if "path" in data:
            return _load(data["path"])  # a Gradio FileData dict
        raise ImageError("a dict input must have 'composite', 'layers' or 'background' (a Gradio editor value)")
    if data.get("composite") is not None:
        return _load(data["composite"])
    layers = [_load(layer) for layer in (data.get("layers") or []) if layer is not None]
    if data.get("background") is not None:
        layers.insert(0, _load(data["background"]))
    if not layers:
        return None  # nothing drawn at all
    canvas = _as_rgba(layers[0].pixels)
    for layer in layers[1:]:
        top = _as_rgba(layer.pixels)
        if top.size != canvas.size:
            # Layers share the canvas' top-left corner; pad or cut them to its size.
            padded = Image.new("RGBA", canvas.size)
            padded.paste(top, (0, 0))
            top = padded
        canvas = Image.alpha_composite(canvas, top)
    return _Loaded(np.asarray(canvas), layers[0].source)


def _pil_image(pixels: np.ndarray) -> Image.Image:
    """A loaded uint8 array (H, W), (H, W, 2|3|4) as the PIL image of its mode: L, LA, RGB or RGBA."""
    mode = {2: "LA", 3: "RGB", 4: "RGBA"}[pixels.shape[2]] if pixels.ndim == 3 else "L"
    return Image.fromarray(pixels, mode)


def _as_rgba(pixels: np.ndarray) -> Image.Image:
    """A loaded uint8 array as an RGBA PIL image (for layer compositing)."""
    return _pil_image(pixels).convert("RGBA")


def _from_numpy(array: np.ndarray) -> np.ndarray:
    """Validate an array's shape and convert its values to uint8 0..255."""
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (2, 3, 4))):
        raise ImageError(
            f"cannot read an array of shape {array.shape} as an image: "
            "expected (H, W) grayscale, (H, W, 3) RGB or (H, W, 4) RGBA"
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ImageError(f"the image is empty (shape {array.shape})")
    kind = array.dtype.kind
    if array.dtype == np.uint8:
        return array
    if kind == "b":
        return array.astype(np.uint8) * np.uint8(255)
    if kind in "iu":
        return _scale_integers(array)
    if kind == "f":
        return _scale_floats(array)
    raise ImageError(f"cannot read an array of dtype {array.dtype} as an image: expected uint8, uint16, bool or float")


def _scale_integers(array: np.ndarray) -> np.ndarray:
    """Map non-negative integers to 0..255: 8-bit ranges as is, wider ranges (16-bit) by their maximum."""
    low, high = int(array.min()), int(array.max())
    if low < 0:
        raise ImageError(f"image values must not be negative (found {low})")
    if high <= 255:
        return array.astype(np.uint8)
    # Scaling by the maximum keeps 12- and 16-bit images readable; later steps only use relative contrast.
    return np.rint(array * (255.0 / high)).astype(np.uint8)


def _scale_floats(array: np.ndarray) -> np.ndarray:
    """Map floats in [0, 1] (or, leniently, [0, 255]) to 0..255; refuse NaN and other ranges."""
    if not np.isfinite(array).all():
        raise ImageError("the image contains NaN or infinite values")
    low, high = float(array.min()), float(array.max())
    if low < -1e-6:
        raise ImageError(f"float image values must lie in [0, 1] (found {low:.3g}); was the image normalised?")
    if high <= 1.0 + 1e-6:
        scale = 255.0
    elif high <= 255.0:
        scale = 1.0  # a float copy of an 8-bit image
    else:
        raise ImageError(f"float image values must lie in [0, 1] (found {high:.3g})")
    return np.rint(np.clip(array, 0.0, 255.0 / scale) * scale).astype(np.uint8)


def _downscale_array(pixels: np.ndarray) -> np.ndarray:
    """Shrink an array whose longer side exceeds MAX_SIDE by an integer box-average factor."""
    factor = _reduce_factor(pixels.shape[1], pixels.shape[0])
    if factor == 1:
        return pixels
    _check_pixel_count(pixels.shape[1], pixels.shape[0])
    return np.asarray(_pil_image(pixels).reduce(factor))


def _reduce_factor(width: int, height: int) -> int:
    """Smallest integer factor that brings the longer side down to MAX_SIDE."""
    return max(1, math.ceil(max(width, height) / MAX_SIDE))


def _check_pixel_count(width: int, height: int) -> None:
    if width * height > MAX_PIXELS:
        raise ImageError(
            f"the image is too large ({width}x{height} = {width * height / 1e6:.0f} megapixels; "
            f"the limit is {MAX_PIXELS / 1e6:.0f})"
        )


def _from_file(source: str | os.PathLike | io.BytesIO, name: str | None = None) -> _Loaded:
    """Open an image file lazily, check its size from the header, then decode it."""
    label = name or os.fspath(source)
    try:
        # Image.open reads only the header; _from_pil checks the size before decoding. (PIL itself
        # warns above ~89 MP and refuses above ~179 MP.)
        with Image.open(source) as image:
            return _from_pil(image, label)
    except FileNotFoundError:
        raise ImageError(f"no such image file: {label}") from None
    except IsADirectoryError:
        raise ImageError(f"{label} is a directory, not an image file") from None
    except UnidentifiedImageError:
        raise ImageError(f"{label} is not an image file that can be read (unknown or corrupt format)") from None
    except Image.DecompressionBombError:
        raise ImageError(f"{label} is too large to decode safely (over {MAX_PIXELS / 1e6:.0f} megapixels)") from None
    except PermissionError:
        raise ImageError(f"no permission to read {label}") from None
    except ImageError:
        raise
    except _DECODE_ERRORS as error:  # a header PIL recognised but could not parse
        raise ImageError(f"cannot read {label}: {error} (the file may be truncated or corrupt)") from None


def _from_pil(image: Image.Image, label: str = "the image") -> _Loaded:
    """Decode a PIL image (any mode, first frame) into a bounded uint8 array."""
    width, height = image.size
    if width == 0 or height == 0:
        raise ImageError(f"{label} is empty ({width}x{height})")
    _check_pixel_count(width, height)
    try:
        if getattr(image, "n_frames", 1) > 1:
            image.seek(0)  # animated GIF/PNG/WebP: the first frame
        orientation = image.getexif().get(EXIF_ORIENTATION, 1)
        factor = _reduce_factor(width, height)
        if factor > 1:
            # JPEG can decode at 1/2, 1/4, 1/8 scale directly, saving most of the memory.
            image.draft(image.mode, (math.ceil(width / factor), math.ceil(height / factor)))
        image = _normalise_mode(image)
        factor = _reduce_factor(*image.size)
        if factor > 1:
            image = image.reduce(factor)
        if orientation in _ORIENT:
            # Phone photos are stored sideways with an EXIF tag saying how to turn them upright.
            image = image.transpose(_ORIENT[orientation])
        array = np.asarray(image)
    except _DECODE_ERRORS as error:
        raise ImageError(f"cannot decode {label}: {error} (the file may be truncated or corrupt)") from None
    upright = (width, height) if orientation in (5, 6, 7, 8) else (height, width)  # a quarter turn swaps the sides
    return _Loaded(_from_numpy(array), upright)


def _normalise_mode(image: Image.Image) -> Image.Image:
    """Convert exotic PIL modes to L, LA, RGB, RGBA, I or F, keeping transparency where there is any."""
    mode = image.mode
    if mode in ("L", "LA", "RGB", "RGBA", "I", "F"):
        image.load()
        return image
    if mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in image.info
        return image.convert("RGBA" if has_alpha else "RGB")
    if mode == "1":
        return image.convert("L")
    if mode == "La":
        return image.convert("LA")
    if mode == "RGBa":
        return image.convert("RGBA")
    if mode.startswith("I;16"):
        return image.convert("I")
    return image.convert("RGB")  # CMYK, YCbCr, LAB, HSV, ...


# --------------------------------------------------------------------------------------------
# Ink: a uint8 map (0 = background, 255 = full ink) cropped to the digit's bounding box.


def _ink_crop(pixels: np.ndarray) -> tuple[np.ndarray, tuple[int, int]] | None:
    """Find the ink of a loaded image, cropped to its bounding box, with the box's (top, left); None if none."""
    channels = pixels.shape[2] if pixels.ndim == 3 else 1
    if channels in (2, 4):
        alpha = np.ascontiguousarray(pixels[..., -1])  # one strided copy, then fast contiguous passes
        if np.median(_border(alpha)) < OPAQUE_ALPHA:
            return _ink_from_alpha(pixels, alpha)
        if alpha.min() < 255:
            return _corner(_gray_ink(_flatten_alpha(pixels, alpha)))
        # Fully opaque: the alpha channel carries nothing, treat as RGB / L.
    return _corner(_gray_ink(_luminance(pixels)))


def _corner(found: tuple[np.ndarray, tuple[slice, slice]] | None) -> tuple[np.ndarray, tuple[int, int]] | None:
    """An (ink, box slices) pair as (ink, (top, left))."""
    return None if found is None else (found[0], (found[1][0].start, found[1][1].start))


def _border(channel: np.ndarray) -> np.ndarray:
    """The pixels of the outermost rows and columns."""
    return np.concatenate([channel[0], channel[-1], channel[:, 0], channel[:, -1]])


def _luminance(pixels: np.ndarray) -> np.ndarray:
    """ITU-R 601 luma of any loaded array (alpha ignored), uint8 (H, W)."""
    if pixels.ndim == 2:
        return pixels
    if pixels.shape[2] == 2:
        return pixels[..., 0]
    rgb = Image.fromarray(np.ascontiguousarray(pixels[..., :3]), "RGB")
    return np.asarray(rgb.convert("L"))


def _flatten_alpha(pixels: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Luma of an image with an opaque background, its transparent holes filled with that background."""
    gray = _luminance(pixels).astype(np.uint16)
    background = np.uint16(np.median(_border(gray)))
    weight = alpha.astype(np.uint16)
    return ((gray * weight + background * (255 - weight) + 127) // 255).astype(np.uint8)


def _ink_from_alpha(pixels: np.ndarray, alpha: np.ndarray) -> tuple[np.ndarray, tuple[int, int]] | None:
    """Ink of an image on a transparent background: the alpha, darkened by the picture if it has one."""
    found = _gray_ink(alpha)
    if found is None:
        return None
    ink, box = found
    corner = (box[0].start, box[1].start)
    # Sketchpad strokes cover a fraction of their box and alpha alone is the ink, whatever their
    # colour(s). An opaque picture with transparent margins instead fills its box: if that picture
    # has contrast (black ink on white paper), only its ink counts, not the paper.
    opaque = alpha[box] >= OPAQUE_ALPHA
    if np.count_nonzero(opaque) < FULL_FILL * opaque.size:
        return ink, corner
    gray = _luminance(pixels[box])
    values = gray[opaque]
    lut = _ink_lut(float(np.median(values)), 0.0, int(values.min()), int(values.max()))
    if lut is None:
        return ink, corner  # a uniformly coloured opaque area: it is the ink
    combined = ((ink.astype(np.uint16) * lut[gray] + 127) // 255).astype(np.uint8)
    inner = _bbox(combined > 0)
    if inner is None:
        return None
    return combined[inner], (corner[0] + inner[0].start, corner[1] + inner[1].start)


def _gray_ink(gray: np.ndarray) -> tuple[np.ndarray, tuple[slice, slice]] | None:
    """Ink of a single-channel image relative to its border's background, cropped to the ink's box (and that box)."""
    raw, gray, edge = gray, _even_lighting(gray), False
    background, noise = _background(gray)
    if noise >= NOISY and min(gray.shape) >= 64:
        # Photo noise: single pixels far out in the noise tail would stretch the digit's box to the
        # image edges. A 3x3 mean shrinks the noise threefold and barely touches strokes this large.
        gray = np.asarray(Image.fromarray(np.ascontiguousarray(gray), "L").filter(ImageFilter.BoxBlur(1)))
        background, noise = _background(gray)
    lut = _ink_lut(background, noise, int(gray.min()), int(gray.max()))
    if lut is None:
        # The border may hold ink as well as background: a digit cropped to its ink, touching the edges.
        gray, edge = raw, True
        lut = _edge_lut(gray)
        if lut is None:
            return None
    inked = np.flatnonzero(lut)
    # lut is monotonic, so ink is a single range of values: threshold the raw image once.
    low, high = int(inked[0]), int(inked[-1])  # Python ints keep the comparison in uint8
    mask = gray <= high if low == 0 else gray >= low
    box = _bbox(mask)
    if box is None:
        return None
    ink = lut[gray[box]]
    if edge and np.count_nonzero(ink >= 64) > FULL_FILL * ink.size and not _is_bar(box, gray.shape):
        return None  # a solid area reaching the edge (a dark half of a photo), not strokes
    return ink, box


def _is_bar(box: tuple[slice, slice], shape: tuple[int, int]) -> bool:
    """Whether a solid box is a '1' cropped tight: a tall thin bar with paper on both sides, not a dark strip."""
    rows, cols = box
    height, width = rows.stop - rows.start, cols.stop - cols.start
    # A strip of a photo's edge (a table, a shadow) lies along the left or right side of the image.
    return height >= BAR_RATIO * width and cols.start > 0 and cols.stop < shape[1]


def _even_lighting(gray: np.ndarray) -> np.ndarray:
    """Remove a linear lighting gradient (as in a photo of paper) estimated from the border."""
    height, width = gray.shape
    if height < 3 or width < 3:
        return gray
    # Medians of opposite sides give the slope and ignore a digit touching part of one side.
    slope_x = (float(np.median(gray[:, -1])) - float(np.median(gray[:, 0]))) / (width - 1)
    slope_y = (float(np.median(gray[-1])) - float(np.median(gray[0]))) / (height - 1)
    if abs(slope_x) * width + abs(slope_y) * height < MIN_GRADIENT:
        return gray  # clean or evenly lit: skip the full-image arithmetic
    ramp_x = (slope_x * (np.arange(width) - (width - 1) / 2)).astype(np.float32)
    ramp_y = (slope_y * (np.arange(height) - (height - 1) / 2)).astype(np.float32)
    flat = gray - ramp_x[None, :] - ramp_y[:, None]
    return np.clip(np.rint(flat), 0, 255).astype(np.uint8)


def _background(gray: np.ndarray) -> tuple[float, float]:
    """The background value (median of the border) and how far the border strays from it."""
    border = _border(gray)
    background = float(np.median(border))
    # Spread of the paper itself (noise, JPEG, a lighting gradient); the 95th percentile ignores a
    # digit touching a little of the edge.
    return background, float(np.percentile(np.abs(border - background), 95))


def _edge_lut(gray: np.ndarray) -> np.ndarray | None:
    """Ink table for an image whose border is partly ink (no margin): the background is the border's mode.

    The median and spread of such a border mix paper and ink, so the background is instead the most
    common border level, and the noise is measured only on the border pixels near it. At least
    EDGE_BACKGROUND of the border must be background, else it is texture or noise, not a digit.
    """
    if min(gray.shape) < 2:
        return None  # a line of pixels is no digit (and has no neighbours to measure noise by)
    border = _border(gray)
    counts = np.bincount(border, minlength=256).astype(np.float32)
    window = 2 * EDGE_PEAK + 1
    smoothed = np.convolve(counts, np.ones(window, np.float32), mode="same")
    peak = int(smoothed.argmax())
    near = border[np.abs(border.astype(np.int16) - peak) <= EDGE_PEAK]
    background = float(np.median(near))
    deviation = np.abs(border - background)
    calm = deviation <= EDGE_TOLERANCE
    if np.count_nonzero(calm) < EDGE_BACKGROUND * border.size:
        return None
    # The border alone cannot tell paper noise from ink here; the median step between neighbouring
    # pixels can (small inside a digit's paper and strokes, large in noise): for Gaussian noise it is
    # 0.95 sigma, and 2 sigma is the 95th-percentile deviation the border spread measures otherwise.
    step = float(np.median(np.abs(np.diff(gray[:, :: max(1, gray.shape[1] // 512)].astype(np.int16), axis=0))))
    noise = max(float(np.percentile(deviation[calm], 95)), 2.0 * step / 0.95)
    return _ink_lut(background, noise, int(gray.min()), int(gray.max()))


def _ink_lut(background: float, noise: float, low: int, high: int) -> np.ndarray | None:
    """A 256-entry table mapping a gray value to ink 0..255, or None when the contrast is too low."""
    # Ink is on the side of the background with the larger range: dark ink on white or grey
    # paper, light ink on black.
    darker, lighter = background - low, high - background
    contrast = max(darker, lighter)
    if contrast < MIN_CONTRAST or NOISE_SPREAD * noise > 0.5 * contrast:
        return None  # uniform, or the background varies as much as the ink does (noise, texture)
    floor = max(NOISE_FLOOR * contrast, NOISE_SPREAD * noise)
    deviation = np.arange(256, dtype=np.float32) - background
    if darker >= lighter:
        deviation = -deviation
    ink = np.clip((deviation - floor) / (contrast - floor), 0.0, 1.0)
    lut = np.rint(ink * 255).astype(np.uint8)
    return lut if lut.any() else None


def _bbox(mask: np.ndarray) -> tuple[slice, slice] | None:
    """Row and column slices of the True region of a 2-D mask, or None if it is empty."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask[rows[0] : rows[-1] + 1].any(axis=0))
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def _readable(ink: np.ndarray, shape: tuple[int, int]) -> bool:
    """Whether a cropped ink map plausibly holds a digit, not a dot, a speck or a filled canvas."""
    count = int(np.count_nonzero(ink >= 64))  # clear ink only: faint specks do not make a digit
    area = shape[0] * shape[1]
    if count < max(MIN_INK_PIXELS, MIN_INK_FRACTION * area):
        return False
    if max(ink.shape) < max(MIN_BOX_PIXELS, MIN_BOX_FRACTION * max(shape)):
        return False
    box_area = ink.shape[0] * ink.shape[1]
    return not (count > FULL_FILL * box_area and box_area > FULL_FILL * area)


# --------------------------------------------------------------------------------------------
# Geometry: scale the crop into the 20 px box, then centre it by mass in the 28x28 field.


def _fit_box(ink: np.ndarray) -> np.ndarray | None:
    """Scale a uint8 ink crop so its longer side is BOX_SIDE; float32 in [0, 1] with max 1, None if it vanishes."""
    ink = _thin(ink)
    height, width = ink.shape
    scale = BOX_SIDE / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    image = Image.fromarray(np.ascontiguousarray(ink), "L")
    missing = MIN_STROKE - _stroke_width(ink) * scale
    if missing > 0:
        small = _thicken(image, math.ceil(missing))
    else:
        small = image.resize(size, _RESAMPLE, reducing_gap=2.0)
    out = np.asarray(small, dtype=np.float32)
    peak = out.max()
    # Normalise so the darkest stroke is full ink: a pale pencil digit should not look faint.
    return out / peak if peak > 0 else None


def _thin(ink: np.ndarray) -> np.ndarray:
    """Erode strokes that are too wide for the digit's size to MNIST's stroke-to-size ratio (a small digit, a big pen).

    The Draw tab's pen keeps its width whatever the digit's size: a digit drawn a fifth of the canvas
    high has strokes a third of its height wide, its loops and gaps filled (a 3 reads as 8).
    """
    longest = max(ink.shape)
    width = _stroke_width(ink)
    if width <= MAX_STROKE_RATIO * longest:
        return ink
    from scipy import ndimage  # only here: most inputs never need it, and it costs an import

    if longest > THIN_SIDE:  # thin at a modest size: the result is shrunk to 20 px anyway
        factor = THIN_SIDE / longest
        size = (max(1, round(ink.shape[1] * factor)), max(1, round(ink.shape[0] * factor)))
        ink = np.asarray(Image.fromarray(np.ascontiguousarray(ink), "L").resize(size, _RESAMPLE, reducing_gap=2.0))
        longest, width = max(ink.shape), width * factor
    # Eroding by r takes 2r off the strokes and off the box: (width - 2r) / (longest - 2r) = THIN_STROKE_RATIO.
    erode = (width - THIN_STROKE_RATIO * longest) / (2 * (1 - THIN_STROKE_RATIO))
    depth = ndimage.distance_transform_edt(np.pad(ink > 127, 1))[1:-1, 1:-1]
    thinned = np.rint(np.clip(depth - erode, 0.0, 1.0) * 255).astype(np.uint8)
    box = _bbox(thinned > 0)
    return ink if box is None else thinned[box]


def _stroke_width(ink: np.ndarray) -> float:
    """Estimate the mean stroke width (px) of an ink crop from its area and outline length."""
    # Subsample big crops: only strokes thinner than ~8% of the crop matter, still several px wide here.
    step = max(1, max(ink.shape) // 200)
    mask = ink[::step, ::step] > 127
    area = np.count_nonzero(mask)
    if area == 0:
        return 0.0
    edges = (
        np.count_nonzero(mask[:, 1:] != mask[:, :-1])
        + np.count_nonzero(mask[1:] != mask[:-1])
        + np.count_nonzero(mask[0])
        + np.count_nonzero(mask[-1])
        + np.count_nonzero(mask[:, 0])
        + np.count_nonzero(mask[:, -1])
    )
    # A stroke of width w and length L has area w*L and ~2L outline; 4/pi corrects the
    # staircase outline of slanted strokes (averaged over directions).
    return step * (4 / math.pi) * 2 * area / edges


def _thicken(image: Image.Image, grow: int) -> Image.Image:
    """Resize to twice the box size, dilate thin strokes by `grow` px (box scale), then halve."""
    grow = min(grow, 3)
    width, height = image.size
    inner = 2 * BOX_SIDE - 2 * grow  # leave room so the dilated digit still ends up 20 px long
    ratio = inner / max(width, height)
    size = (max(1, round(width * ratio)), max(1, round(height * ratio)))
    double = Image.new("L", (size[0] + 2 * grow, size[1] + 2 * grow))
    double.paste(image.resize(size, _RESAMPLE, reducing_gap=2.0), (grow, grow))
    for _ in range(grow):
        double = double.filter(ImageFilter.MaxFilter(3))
    half = (max(1, round(double.width / 2)), max(1, round(double.height / 2)))
    return double.resize(half, Image.Resampling.BOX)


def _centre(digit: np.ndarray) -> np.ndarray:
    """Place a digit (at most 20x20) in a 28x28 field with its centre of mass at (14, 14)."""
    height, width = digit.shape
    total = float(digit.sum())
    row = float(digit.sum(axis=1) @ np.arange(height)) / total
    col = float(digit.sum(axis=0) @ np.arange(width)) / total
    # Integer shift as in MNIST, clipped so no ink leaves the field.
    top = min(max(round(CENTRE - row), 0), MNIST_SIDE - height)
    left = min(max(round(CENTRE - col), 0), MNIST_SIDE - width)
    field = np.zeros((MNIST_SIDE, MNIST_SIDE), dtype=np.float32)
    field[top : top + height, left : left + width] = digit
    return np.clip(field, 0.0, 1.0, out=field)
