"""The Inside tab in a real browser, as a new visitor meets it (issue 21, item 5): the map of the test
set appears by itself once built (it stayed empty until the target was changed), and the Draw tab's
"Explain this" opens the drawing on the Inside tab, each digit of a number explainable on its own.
Every wait is on the page's state, with generous limits (the VM is shared)."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.browser]

from tests.support import strokes as pen  # noqa: E402
from tests.support.browser import expect  # noqa: E402 - skips the module without chromium

WAIT = 180_000  # ms: a limit, not a pause (the map's first build takes a minute or two without its cache)


@pytest.fixture(scope="module")
def server(start_app, tmp_path_factory):
    return start_app(checkpoints=tmp_path_factory.mktemp("runs")).url


@pytest.fixture
def page(browser, server):
    with pen.drawable_page(browser, server, viewport={"width": 1280, "height": 900}) as page:
        yield page


def test_the_map_appears_by_itself(page):
    """Opening the tab is all it takes: no digit, no click; the progress line goes when the map comes."""
    page.get_by_role("tab", name="Inside").click()
    expect(page.locator("#inside-map .js-plotly-plot")).to_be_visible(timeout=WAIT)
    expect(page.locator("#inside-map-status")).not_to_contain_text("Building the map")
    expect(page.locator("#inside-info")).to_contain_text("Nothing to explain")  # no digit was asked for
    # A random digit then gets its place on the map and its neighbours at once, the gallery sized to them.
    page.locator("#inside-random").click()
    expect(page.locator("#inside-near img")).to_have_count(8, timeout=WAIT)
    expect(page.locator("#inside-info")).to_contain_text("nearest training digits")
    gallery = page.locator("#inside-near .grid-wrap").bounding_box()
    thumb = page.locator("#inside-near .thumbnail-item").first.bounding_box()
    assert gallery["height"] < 2.5 * thumb["height"], (gallery, thumb)  # one row, no empty band under it
    last = page.locator("#inside-near .thumbnail-item").last.bounding_box()
    assert last["x"] + last["width"] <= gallery["x"] + gallery["width"] + 1  # the 8th digit is whole


def test_explain_this_explains_the_drawing_on_the_inside_tab(page):
    pen.mouse_stroke(page, pen.SEVEN, dx=-0.45)
    pen.mouse_stroke(page, pen.ONE, dx=0.45)
    pen.wait_for_number(page, "71", timeout=60_000)
    page.locator("#explain-this").click()
    info = page.locator("#inside-info")
    expect(info).to_contain_text("Your drawing. Reads the number 71; digit 1 of 2: Reads 7", timeout=WAIT)
    expect(page.get_by_role("tab", name="Inside")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#inside-attr img")).to_be_visible()
    picker = page.locator("#inside-pick label")
    expect(picker).to_have_count(2)
    picker.nth(1).click()
    expect(info).to_contain_text("digit 2 of 2: Reads 1", timeout=WAIT)
    # "why not 4?" keeps the picked digit and the words about the drawing
    page.locator("#inside-target input").click()
    page.get_by_role("option", name="4", exact=True).click()
    expect(info).to_contain_text("why it might be 4 instead", timeout=WAIT)
    expect(info).to_contain_text("Your drawing. Reads the number 71; digit 2 of 2: Reads 1")
