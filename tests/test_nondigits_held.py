"""The held-out non-digits (tests/support/nondigits_held.py): images as a drawing reaches the model,
the same for a seed, and never drawn by a font, shape or scribble the models are trained on, so
refusal measured on them is refusal of things never seen."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_core import nondigits
from tests.support import nondigits_held as held


@pytest.fixture(scope="module")
def small_set() -> dict[str, tuple[list[str], np.ndarray]]:
    return held.held_out(3, seed=5)


def test_every_kind_gives_mnist_like_uint8_images(small_set) -> None:
    assert tuple(small_set) == held.KINDS
    for kind, (names, images) in small_set.items():
        assert images.dtype == np.uint8 and images.shape == (len(names), 28, 28), kind
        assert 1 <= len(names) <= 3, kind
        assert images.max(axis=(1, 2)).min() > 128, f"{kind}: an image without ink"  # ink high, as MNIST's
        assert np.median(images) == 0, f"{kind}: not ink on black"


def test_names_say_what_was_drawn(small_set) -> None:
    for kind in ("letters_stroke", "letters_ttf"):
        assert all(c in nondigits.LETTERS for c in small_set[kind][0])
    for kind in ("signs_stroke", "signs_ttf"):
        assert all(c in nondigits.SIGNS for c in small_set[kind][0])
    assert set(small_set["shapes"][0]) <= set(held.SHAPES_HELD)
    assert set(small_set["objects"][0]) <= set(held.OBJECTS_HELD)
    assert set(small_set["scribbles"][0]) <= set(held.SCRIBBLES_HELD)


def test_deterministic_for_a_seed(small_set) -> None:
    again = held.held_out(3, seed=5)
    other = held.held_out(3, seed=6)
    for kind in held.KINDS:
        assert again[kind][0] == small_set[kind][0]
        np.testing.assert_array_equal(again[kind][1], small_set[kind][1])
    assert any(
        other[kind][1].shape != small_set[kind][1].shape or (other[kind][1] != small_set[kind][1]).any()
        for kind in held.KINDS
    )


def test_held_out_never_overlaps_the_train_side() -> None:
    assert not set(held.HERSHEY_HELD) & set(nondigits.HERSHEY_TRAIN)
    assert not {p.name for p in held.TTF_HELD} & {p.name for p in nondigits.TTF_TRAIN}
    assert not {p.parent for p in held.TTF_HELD} & {p.parent for p in nondigits.TTF_TRAIN}  # another family
    drawings = set(held.DRAWINGS_HELD)
    assert not drawings & set(nondigits.SHAPES_TRAIN)
    assert not drawings & {"random_walk", "hatching", "doodle", "random_glyph"}  # the train-side scribbles
    for f in held.DRAWINGS_HELD.values():
        assert f.__module__ == held.__name__  # not a train-side generator under another name
    assert all(p.exists() for p in held.TTF_HELD)


def test_no_handwriting_font_is_used() -> None:
    debian_handwriting = ("dkg", "breip", "bwht", "femke", "humor", "comic", "dancing")
    for path in held.TTF_HELD:
        assert not any(word in str(path).lower() for word in debian_handwriting), path


@pytest.mark.parametrize("name", ["heart", "cat", "zigzag", "K"])
def test_one_canvas_for_the_browser_tests(name: str) -> None:
    image = held.held_canvas(name)
    assert image.dtype == np.uint8 and image.ndim == 2 and min(image.shape) >= 300
    assert image[0, 0] == 255 and (image < 128).any()  # white paper, black ink
    np.testing.assert_array_equal(image, held.held_canvas(name))
    strokes = held.held_strokes(name)
    points = np.array([p for stroke in strokes for p in stroke])
    assert strokes and np.abs(points).max() <= 0.4 + 1e-9


def test_a_letter_in_a_held_out_truetype_font() -> None:
    image = held.held_canvas("R", font=str(held.TTF_HELD[1]))
    assert image.dtype == np.uint8 and (image < 128).any()
    with pytest.raises(ValueError):
        held.held_canvas("R", font=str(nondigits.TTF_TRAIN[0]))
    with pytest.raises(ValueError):
        held.held_canvas("star")  # a train-side shape
    with pytest.raises(ValueError):
        held.held_strokes("R", font=nondigits.HERSHEY_TRAIN[0])
