"""The Draw tab and the API answer "not a digit" (issue 21): a refused drawing is shown as such, with the
digit it looks most like as a hint, and a digit still reads as before.

The answer panel is checked on readings made here (any model's refusal looks the same); the `predict`
and `read_number` API events through gradio_client against the real app with the bundled model, as a
visitor's script would call them, on a train-side star (mnist_core.nondigits) and on held-out shapes and
letters the model never trained on (tests/support/nondigits_held.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from mnist_core import nondigits
from mnist_core.app.tabs import draw_view
from mnist_core.app.tabs.draw import prediction_outputs
from mnist_core.checkpoint import BUNDLED_DEFAULT, read_checkpoint
from mnist_core.predict import DIGIT, NO_DIGIT, NOT_A_DIGIT, DigitReading, NumberReading, Prediction
from tests.support.drawings import seven
from tests.support.nondigits_held import held_canvas

BLANK28 = np.zeros((28, 28), np.float32)


def mark(closest: int, refused: bool, x0: int = 0, p: float = 0.6) -> DigitReading:
    """A mark as read_number gives it: `closest` with probability p, the rest shared out."""
    probabilities = [(1 - p) / 9] * 10
    probabilities[closest] = p
    return DigitReading(closest, probabilities, (x0, 10, x0 + 50, 90), BLANK28, refused, 3.0 if refused else 0.1)


def number_line(html: str) -> tuple[str, str, str, str]:
    """The number line's (extra classes, data-number, data-kind, text)."""
    found = re.search(r'<div class="number([^"]*)" data-number="([^"]*)" data-kind="([^"]*)">([^<]*)</div>', html)
    assert found, html
    return found.groups()


# --------------------------------------------------------------------------- the answer panel


def test_the_page_uses_the_library_s_three_answers():
    # draw_view repeats the strings (the page is built before torch loads): they must stay the library's.
    assert (draw_view.DIGIT, draw_view.NOT_A_DIGIT, draw_view.NO_DIGIT) == (DIGIT, NOT_A_DIGIT, NO_DIGIT)


def test_a_refused_drawing_reads_not_a_digit_with_the_closest_digit_as_a_hint():
    html = draw_view.result_html(NumberReading([mark(8, refused=True)]))
    line = number_line(html)
    assert line == (" refused", "", NOT_A_DIGIT, NOT_A_DIGIT)
    assert '<p class="hint refusal">Not a digit: closest is 8.</p>' in html
    card = re.search(r'<div class="digit-card" data-digit="" data-kind="not a digit" data-closest="8">.*', html)
    assert card and '<span class="big">?</span><span class="conf">closest 8</span>' in card[0]
    bars = re.findall(r'class="d">(\d)</span>', html)
    assert len(bars) == 3 and bars[0] == "8"  # the top 3 stays: the hint's evidence
    assert html.count('class="digit-card"') == 1 and html.count('class="seen"') == 1


def test_a_number_with_one_refused_mark_is_not_a_number_and_says_which_mark():
    reading = NumberReading([mark(7, False), mark(3, True, 60), mark(1, False, 120)])
    assert reading.number is None
    html = draw_view.result_html(reading)
    assert number_line(html)[1:] == ("", NOT_A_DIGIT, NOT_A_DIGIT)
    assert "Not a number: mark 2 (closest is 3) is not a digit." in html
    kinds = re.findall(r'data-digit="(\d?)" data-kind="([^"]+)"', html)
    assert kinds == [("7", DIGIT), ("", NOT_A_DIGIT), ("1", DIGIT)]
    two = NumberReading([mark(4, True), mark(9, True, 60)])
    assert "Not a number: mark 1 (closest is 4), mark 2 (closest is 9) are not digits." in draw_view.result_html(two)


def test_digits_read_as_before():
    html = draw_view.result_html(NumberReading([mark(7, False), mark(1, False, 60)]))
    assert number_line(html) == ("", "71", DIGIT, "71")
    assert "refusal" not in html and "?" not in html and "closest" not in html.replace('data-closest="', "")
    assert re.findall(r'<span class="big">(\d)</span><span class="conf">60.0%</span>', html) == ["7", "1"]
    assert number_line(draw_view.result_html(None)) == (" none", "", NO_DIGIT, NO_DIGIT)


def test_the_marked_copy_boxes_a_refused_mark_with_a_question_mark():
    pixels = np.full((100, 200), 255, np.uint8)
    html = draw_view.marked_copy(pixels, NumberReading([mark(7, False), mark(3, True, 60)]))
    boxes = re.findall(r'<span class="box" style="[^"]+" data-kind="([^"]+)"><b>([^<]+)</b>', html)
    assert boxes == [(DIGIT, "7"), (NOT_A_DIGIT, "?")]


def test_the_predict_answer_of_a_refused_drawing(tmp_path):
    p = [0.02] * 10
    p[8] = 0.82
    image = np.zeros((28, 28), np.float32)
    image[8:20, 8:20] = 1.0
    refused = Prediction(None, p, image, kind=NOT_A_DIGIT, closest=8, score=3.0, threshold=1.5)
    label, chart, seen, text = prediction_outputs(refused)
    assert label == NOT_A_DIGIT and text == "Not a digit: closest is **8**."
    assert list(chart.data[0].y) == p and Image.open(seen).size == (168, 168)  # the evidence is still shown
    digit = Prediction(8, p, image, kind=DIGIT)
    label, *_, text = prediction_outputs(digit)
    assert max(label, key=label.get) == "8" and text == "Prediction: **8** (82.0%)"
    assert prediction_outputs(Prediction.nothing())[0] == NO_DIGIT


# --------------------------------------------------------------------------- the API, bundled model


def png(folder: Path, name: str, pixels: np.ndarray) -> str:
    path = folder / f"{name}.png"
    Image.fromarray(pixels).save(path)
    return str(path)


def star_canvas(seed: int = 0) -> np.ndarray:
    """A star as the training side draws it (mnist_core.nondigits), on white paper."""
    rng = np.random.default_rng(seed)
    return nondigits.draw(nondigits.star(rng), rng)


def face_canvas(seed: int = 0) -> np.ndarray:
    """A smiley as the training side draws it, on white paper."""
    rng = np.random.default_rng(seed)
    return nondigits.draw(nondigits.face(rng), rng)


def side_by_side(*images: np.ndarray) -> np.ndarray:
    """Canvases (black on white) next to each other on one white strip, as a number is drawn."""
    height = max(i.shape[0] for i in images)
    strip = [np.pad(i, ((0, height - i.shape[0]), (20, 20)), constant_values=255) for i in images]
    return np.concatenate(strip, axis=1)


@pytest.fixture(scope="module")
def client(start_app, tmp_path_factory) -> Client:
    refusal = read_checkpoint(BUNDLED_DEFAULT).get("refusal")
    assert refusal, f"the bundled model {BUNDLED_DEFAULT.name} has no refusal threshold: it never refuses"
    app = start_app(checkpoints=tmp_path_factory.mktemp("runs"))
    return Client(app.url, verbose=False)


def label_of(output) -> str:
    """The Label output's label, as gradio_client gives it (a dict with "label")."""
    return str(output["label"]) if isinstance(output, dict) else str(output)


@pytest.mark.parametrize(
    "name",
    ["star", "smiley", "held-out heart", "held-out letter W", "held-out letter A", "held-out letter k"],
)
def test_the_api_answers_not_a_digit_for_a_drawing_that_is_not_one(client, tmp_path, name):
    train_side = {"star": star_canvas(), "smiley": face_canvas()}
    pixels = train_side[name] if name in train_side else held_canvas(name.rsplit(" ", 1)[1])
    path = png(tmp_path, name.replace(" ", "-"), pixels)
    label, chart, seen, text = client.predict(handle_file(path), None, api_name="/predict")
    assert label_of(label) == NOT_A_DIGIT, (name, label, text)
    closest = re.fullmatch(r"Not a digit: closest is \*\*(\d)\*\*\.", text)
    assert closest, text
    assert chart and seen and Image.open(seen).size == (168, 168)  # the chart and the 28x28 view still come
    found = client.predict(handle_file(path), None, api_name="/read_number")
    assert found["kind"] == NOT_A_DIGIT and found["number"] is None, found
    (only,) = found["digits"]
    assert only["kind"] == NOT_A_DIGIT and only["digit"] is None
    assert only["closest"] == only["top3"][0][0] == int(closest[1])  # one reading: the same hint both ways


def test_the_api_still_reads_a_seven(client, tmp_path):
    path = png(tmp_path, "seven", np.asarray(seven()))
    label, _chart, _seen, text = client.predict(handle_file(path), None, api_name="/predict")
    assert label_of(label) == "7" and text.startswith("Prediction: **7**"), (label, text)
    found = client.predict(handle_file(path), None, api_name="/read_number")
    assert found["kind"] == DIGIT and found["number"] == "7"
    assert [(d["kind"], d["digit"], d["closest"]) for d in found["digits"]] == [(DIGIT, 7, 7)]


def test_a_seven_beside_a_star_is_no_number_and_the_star_is_the_mark_refused(client, tmp_path):
    path = png(tmp_path, "seven-star", side_by_side(np.asarray(seven(300)), star_canvas(1)))
    found = client.predict(handle_file(path), None, api_name="/read_number")
    assert found["kind"] == NOT_A_DIGIT and found["number"] is None, found
    assert [(d["kind"], d["digit"]) for d in found["digits"]] == [(DIGIT, 7), (NOT_A_DIGIT, None)]
