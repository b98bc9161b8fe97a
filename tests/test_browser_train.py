"""The Train tab in a real browser: presets, fields that show only when they apply, the log-scale
sliders, the configuration in the address bar (round trip and bad links), loading a run into the
form, and what a laptop shows without scrolling. Screenshots: artifacts/ (docs/screenshots/ with
UPDATE_SCREENSHOTS=1). Every wait is on the page's state, with generous limits (the VM is shared).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.browser]

from mnist_core.config import TrainConfig  # noqa: E402
from mnist_core.presets import PRESETS  # noqa: E402
from tests.support.browser import expect  # noqa: E402 - skips the module without chromium
from tests.support.fixtures import fake_checkpoint  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS, SCREENSHOTS = REPO / "artifacts", REPO / "docs" / "screenshots"
WAIT = 60_000  # ms: a limit, not a pause


@pytest.fixture(scope="module")
def server(start_app, tmp_path_factory):
    """The app with one earlier run ("mine": an SGD MLP) in its checkpoint folder."""
    folder = tmp_path_factory.mktemp("runs")
    fake_checkpoint(folder / "mine.pt", optimizer="sgd", lr=0.2, hidden_sizes="48,24")
    return start_app(checkpoints=folder)


@pytest.fixture
def open_page(browser, server):
    """open_page(query="", prepare=None, **context options) -> a page of the app, loaded, its form filled from
    the URL; `prepare(page)` runs before the page is opened (e.g. to route its requests)."""
    contexts = []

    def open_(query: str = "", prepare=None, **options):
        context = browser.new_context(**{"viewport": {"width": 1280, "height": 800}, **options})
        contexts.append(context)
        page = context.new_page()
        if prepare is not None:
            prepare(page)
        page.goto(server.url + query)
        if not query:  # the Draw tab lands; the Train tab is drawn when opened
            expect(page.locator("#draw-pad canvas").first).to_be_visible(timeout=WAIT)
            page.get_by_role("tab", name="Train").click()
        expect(page.locator("#estimate")).to_contain_text("steps", timeout=WAIT)  # the form is wired and live
        return page

    yield open_
    for context in contexts:
        context.close()


def field(page, name: str):
    """The value box of a field (a number input, a text input, or a dropdown's input)."""
    return page.locator(f"#hp-{name} input:not([type=range]), #hp-{name} textarea").first


def set_number(page, name: str, value: str) -> None:
    box = page.locator(f"#hp-{name} input[type=number]").first
    box.fill(value)
    box.press("Enter")
    expect(box).to_have_value(value)


def choose(page, elem_id: str, option: str) -> None:
    """Pick `option` in a Gradio dropdown."""
    page.locator(f"#{elem_id} input").click()
    page.get_by_role("option", name=option, exact=True).click()


def open_group(page, group: str) -> None:
    page.locator(f"#group-{group}").locator("button, .label-wrap").first.click()


def train_tab_is_open(page) -> None:
    expect(page.get_by_role("tab", name="Train")).to_have_attribute("aria-selected", "true", timeout=WAIT)


def shoot(page, name: str, full_page: bool) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, SCREENSHOTS / f"{name}.png")


def test_a_preset_fills_the_form_and_shows_what_applies(open_page):
    page = open_page("?epochs=2")  # a training setting in the URL opens the Train tab
    train_tab_is_open(page)
    open_group(page, "optimizer")
    open_group(page, "model")
    expect(page.locator("#hp-momentum")).to_be_hidden()  # AdamW: no momentum...
    expect(page.locator("#hp-beta1")).to_be_visible()  # ...but its betas
    expect(page.locator("#hp-hidden_sizes")).to_be_hidden()  # a CNN has no hidden sizes

    choose(page, "preset", "MLP 784-256-128-10, dropout, SGD")
    expect(field(page, "model")).to_have_value("mlp", timeout=WAIT)
    expect(field(page, "optimizer")).to_have_value("sgd")
    expect(field(page, "lr")).to_have_value("0.05")
    expect(field(page, "epochs")).to_have_value("10")
    expect(page.locator("#hp-momentum")).to_be_visible(timeout=WAIT)
    expect(page.locator("#hp-beta1")).to_be_hidden()
    expect(page.locator("#hp-hidden_sizes")).to_be_visible()
    expect(page.locator("#preset-note")).to_contain_text("The classic recipe", timeout=WAIT)

    choose(page, "hp-optimizer", "adamw")  # any widget can still be changed; the note says what changed
    expect(page.locator("#hp-momentum")).to_be_hidden(timeout=WAIT)
    expect(page.locator("#hp-beta1")).to_be_visible()
    expect(page.locator("#preset-note")).to_contain_text("Modified (optimizer)", timeout=WAIT)


# Keeps, in window.queueText, what the page's queue stream says (Gradio reads it with fetch), so that a
# test can wait for the end of one event's run.
QUEUE_TEXT_JS = """(() => {
  window.queueText = '';
  const fetchFirst = window.fetch;
  window.fetch = async (...args) => {
    const answer = await fetchFirst(...args);
    if (!String(args[0]?.url ?? args[0]).includes('/queue/data') || !answer.body) return answer;
    const [page, copy] = answer.body.tee();
    (async () => {
      const reader = copy.getReader(), text = new TextDecoder();
      for (let chunk; !(chunk = await reader.read()).done; ) window.queueText += text.decode(chunk.value, {stream: true});
    })();
    return new Response(page, {status: answer.status, statusText: answer.statusText, headers: answer.headers});
  };
})()"""


def test_a_presets_stale_request_answering_after_its_fill_leaves_the_form_filled(open_page):
    """A dropdown sends `input` twice per pick (on the pick, then on the blur that follows): the first of a
    preset's two requests is stale once the second begins, and its run yielded nothing, which Gradio ends
    with None for every output. When that end came after the second request's fill, every field went blank
    (CI: the model box stayed '' after picking the classic MLP, 1 run in ~10). Here the first request is
    held until the fill has landed, as that slow ordering had it; its end must change nothing."""
    held, joins = [], []

    def hold_the_first_preset_request(route):
        data = json.loads(route.request.post_data or "{}").get("data") or []
        if len(data) == 2 and data[1] in PRESETS:  # apply_preset: [form token, preset]
            joins.append(data)
            if len(joins) == 1:
                held.append(route)
                return
        route.continue_()

    def prepare(page):
        page.add_init_script(QUEUE_TEXT_JS)
        page.route("**/queue/join*", hold_the_first_preset_request)

    page = open_page("?epochs=2", prepare=prepare)
    train_tab_is_open(page)
    choose(page, "preset", "MLP 784-256-128-10, dropout, SGD")
    expect(field(page, "model")).to_have_value("mlp", timeout=WAIT)  # the second request's fill
    expect(page.locator("#estimate")).to_contain_text("a probe of mlp", timeout=WAIT)  # ...and its probe
    assert len(held) == 1 and len(joins) == 2, joins  # one pick, two requests (see the docstring)

    stale = held[0].request
    with page.expect_response(lambda r: r.request.post_data == stale.post_data, timeout=WAIT) as joined:
        held[0].continue_()
    ended = f'"msg":"process_completed","event_id":"{joined.value.json()["event_id"]}"'
    page.wait_for_function("ended => window.queueText.includes(ended)", arg=ended, timeout=WAIT)
    page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
    expect(field(page, "model")).to_have_value("mlp")
    expect(field(page, "optimizer")).to_have_value("sgd")
    expect(field(page, "lr")).to_have_value("0.05")
    expect(page.locator("#preset input")).to_have_value("MLP 784-256-128-10, dropout, SGD")
    expect(page.locator("#estimate")).to_contain_text("a probe of mlp")


def test_the_log_sliders_and_their_numbers_move_together(open_page):
    page = open_page("?preset=cnn_fast")
    set_number(page, "lr", "0.001")
    expect(page.locator("#hp-lr-log10 input[type=number]")).to_have_value("-3", timeout=WAIT)
    slider_box = page.locator("#hp-batch_size-log2 input[type=number]")
    slider_box.fill("9")
    slider_box.press("Enter")
    expect(field(page, "batch_size")).to_have_value("512", timeout=WAIT)
    set_number(page, "batch_size", "100")  # any allowed size may be typed
    expect(slider_box).to_have_value("7", timeout=WAIT)
    expect(page.locator("#estimate")).to_contain_text("550 per epoch", timeout=WAIT)  # 55,000 / 100


def test_the_url_round_trip_reopens_the_same_settings(open_page):
    page = open_page()  # no settings in the URL: Draw was the landing tab (open_page checks)
    assert "?" not in page.url, page.url  # a page without settings keeps its plain address
    choose(page, "preset", "MLP 784-64-32-10, Adam")
    expect(field(page, "lr")).to_have_value("0.001", timeout=WAIT)
    set_number(page, "lr", "0.002")
    set_number(page, "epochs", "3")
    page.wait_for_function("() => location.search.includes('epochs=3')", timeout=WAIT)
    url = page.url
    assert "preset=mlp_adam" in url and "lr=0.002" in url, url

    again = open_page(url[url.index("?") :])
    train_tab_is_open(again)
    for name in ("model", "optimizer", "lr", "epochs", "batch_size"):
        expect(field(again, name)).to_have_value(field(page, name).input_value(), timeout=WAIT)
    expect(again.locator("#preset input")).to_have_value("MLP 784-64-32-10, Adam")
    expect(again.locator("#url-note")).to_be_hidden()


def test_a_bad_url_still_loads_and_names_what_it_ignored(open_page):
    page = open_page("?epochs=3&bogus=1&lr=99&preset=nope")
    train_tab_is_open(page)
    note = page.locator("#url-note")
    expect(note).to_contain_text("'bogus' is not a training setting", timeout=WAIT)
    expect(note).to_contain_text("lr: 99.0 is outside")
    expect(note).to_contain_text("preset 'nope' is unknown")
    expect(field(page, "epochs")).to_have_value("3")
    expect(field(page, "lr")).to_have_value(f"{TrainConfig().lr:g}")  # the default stands


def test_load_a_run_into_train(open_page):
    page = open_page()
    page.get_by_role("tab", name="Runs").click()
    table = page.locator("#runs-table")
    cell = table.get_by_text("mine", exact=True)
    expect(cell.first).to_be_visible(timeout=WAIT)
    cell.first.click()
    expect(page.locator("#model-picker input")).to_have_value("mine", timeout=WAIT)
    page.locator("#load-run").click()
    train_tab_is_open(page)
    expect(field(page, "optimizer")).to_have_value("sgd", timeout=WAIT)
    expect(field(page, "lr")).to_have_value("0.2")
    open_group(page, "model")
    expect(field(page, "hidden_sizes")).to_have_value("48,24")
    expect(page.locator("#url-note")).to_contain_text("Loaded the settings of run mine")


def test_a_laptop_sees_the_basic_fields_start_and_estimate_without_scrolling(open_page):
    page = open_page("?preset=mlp_classic&epochs=3")
    train_tab_is_open(page)
    for selector in ("#preset", *(f"#hp-{n}" for n in ("model", "optimizer", "lr", "epochs", "batch_size"))):
        box = page.locator(selector).bounding_box()
        assert box and box["y"] + box["height"] <= 800, (selector, box)
    for selector in ("#estimate", "#start", "#stop"):
        box = page.locator(selector).bounding_box()
        assert box and box["y"] + box["height"] <= 800, (selector, box)
    shoot(page, "train", full_page=False)


def test_the_train_tab_on_a_phone(open_page):
    page = open_page("?preset=mlp_classic&epochs=3", viewport={"width": 390, "height": 844}, is_mobile=True)
    train_tab_is_open(page)
    # The link fills the form one widget at a time, each change asking about a half-filled form; the
    # probed estimate that stays is the finished form's (3 epochs of 430 steps), not a half-filled one's.
    expect(page.locator("#estimate")).to_contain_text("a probe of mlp at batch 128", timeout=WAIT)
    expect(page.locator("#estimate")).to_contain_text("1,290 steps (430 per epoch)")
    expect(page.locator("#start")).to_be_visible()
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390, width  # nothing sticks out sideways
    shoot(page, "train-phone", full_page=True)
