"""The Runs tab on a shared server, in two browsers (separate contexts: two visitors): Ann's run is marked as
hers and listed first in her browser only, Bob cannot delete it, and the model Ann chose survives a reload
and a second tab. Every wait is on the page's state, with generous limits (the VM is shared).
"""

from __future__ import annotations

import re

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.browser]

from mnist_core.app.registry import DEFAULT_NAME  # noqa: E402
from tests.support.browser import expect  # noqa: E402 - skips the module without chromium
from tests.support.fixtures import fake_checkpoint  # noqa: E402

WAIT = 60_000  # ms: a limit, not a pause
TINY_LINK = "?model=mlp&hidden_sizes=64&train_size=2000&val_size=500&epochs=1&batch_size=64"


@pytest.fixture(scope="module")
def server(start_app, tmp_path_factory):
    """The app with one older run nobody here started."""
    folder = tmp_path_factory.mktemp("runs")
    fake_checkpoint(folder / "someone-elses.pt")
    return start_app(checkpoints=folder)


@pytest.fixture
def visitors(browser):
    """visitors() -> a new browser context: one visitor (its own local storage)."""
    contexts = []

    def new():
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        contexts.append(context)
        return context

    yield new
    for context in contexts:
        context.close()


def open_runs(page) -> None:
    page.get_by_role("tab", name="Runs").click()
    expect(page.locator("#runs-table")).to_contain_text("someone-elses", timeout=WAIT)


def row_of(page, name: str):
    return page.locator("#runs-table").get_by_role("row").filter(has_text=name).first


def first_row(page):
    return page.locator("#runs-table").get_by_role("row").nth(1)  # after the header


def test_runs_are_marked_as_yours_and_the_chosen_model_survives_a_reload(server, visitors):
    ann = visitors().new_page()
    ann.goto(server.url + TINY_LINK)  # the link opens the Train tab with a run of a few seconds
    expect(ann.locator("#estimate")).to_contain_text("32 steps", timeout=WAIT)  # the form holds the link's run
    ann.locator("#start").click()
    expect(ann.locator('#progress [data-status="done"]')).to_be_attached(timeout=180_000)
    name = re.search(r"mlp-\d{8}-\d{6}(-\d+)?", ann.locator("#train-status").inner_text())[0]

    open_runs(ann)
    expect(row_of(ann, name)).to_contain_text("yes", timeout=WAIT)  # hers, marked
    expect(first_row(ann)).to_contain_text(name)  # and first
    expect(row_of(ann, "someone-elses")).not_to_contain_text("yes")

    bob = visitors().new_page()
    bob.goto(server.url)
    open_runs(bob)
    expect(row_of(bob, name)).to_be_visible(timeout=WAIT)
    expect(row_of(bob, name)).not_to_contain_text("yes")  # not his
    expect(first_row(bob)).to_contain_text(DEFAULT_NAME)
    bob.get_by_label("mine").check()
    expect(bob.locator("#runs-table")).not_to_contain_text(name, timeout=WAIT)
    bob.get_by_label("all").check()
    row_of(bob, name).get_by_text(name, exact=True).click()  # Bob makes Ann's run his active model...
    expect(bob.locator("#model-picker input")).to_have_value(name, timeout=WAIT)
    expect(bob.locator("#runs-download button, button#runs-download")).to_be_disabled()
    bob.locator("#runs-delete").click()  # ...but cannot delete it
    expect(bob.locator("#runs-action-note")).to_contain_text("not yours", timeout=WAIT)

    row_of(ann, name).get_by_text(name, exact=True).click()
    expect(ann.locator("#model-picker input")).to_have_value(name, timeout=WAIT)
    expect(ann.locator("#runs-note")).to_contain_text(f"Active model: {name}")  # beside the table she clicked
    expect(ann.locator("#runs-download button, button#runs-download")).to_be_enabled(timeout=WAIT)

    ann.wait_for_function("() => localStorage.getItem('mnist-lab-model') !== null", timeout=WAIT)  # stored
    ann.reload()
    expect(ann.locator("#model-picker input")).to_have_value(name, timeout=WAIT)  # remembered by her browser
    open_runs(ann)
    expect(ann.locator("#runs-download button, button#runs-download")).to_be_enabled(timeout=WAIT)  # and still hers
    second_tab = ann.context.new_page()
    second_tab.goto(server.url)
    expect(second_tab.locator("#model-picker input")).to_have_value(name, timeout=WAIT)
    fresh = visitors().new_page()  # another browser remembers nothing of Ann's
    fresh.goto(server.url)
    expect(fresh.locator("#model-picker input")).to_have_value(DEFAULT_NAME, timeout=WAIT)
    assert (server.checkpoints / f"{name}.pt").exists()
