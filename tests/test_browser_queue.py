"""Three browsers share one server's line (issue 20): separate contexts are separate visitors.

A starts a run that holds at its first step until it is stopped (tests/support/hold.py, in the training
child); B presses Start and sees its place in line with an expected start; C's Stop is greyed out and
A's run goes on; B closes its page; A stops, and B's run starts by itself, finishes and is listed.
(B leaves before A stops: B's small run could otherwise end before its page looked, a race with speed.) Screenshots of B waiting in line (desktop and phone): artifacts/, and docs/screenshots/ with
UPDATE_SCREENSHOTS=1.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from gradio_client import Client

pytestmark = [pytest.mark.slow, pytest.mark.browser]

from tests.support.browser import expect  # noqa: E402 - skips the module without chromium
from tests.support.hold import RunHold, child_env, held_pids  # noqa: E402
from tests.support.waiting import wait_for  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS, SCREENSHOTS = REPO / "artifacts", REPO / "docs" / "screenshots"
WAIT = 60_000  # ms: a limit, not a pause
SMALL = "?model=mlp&hidden_sizes=64&train_size=2000&val_size=500&epochs=1&batch_size=64"


@pytest.fixture(scope="module")
def server(start_app, tmp_path_factory):
    marker = tmp_path_factory.mktemp("hold") / "held"
    app = start_app(env=child_env(marker, run=RunHold(epoch=1, run=1)))
    app.marker = marker
    return app


def open_train(browser, server, **options):
    context = browser.new_context(**{"viewport": {"width": 1280, "height": 900}, **options})
    page = context.new_page()
    page.goto(server.url.rstrip("/") + "/" + SMALL)  # the link opens the Train tab with a small run
    expect(page.locator("#estimate")).to_contain_text("steps", timeout=WAIT)
    return context, page


def shoot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#train-status").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / name))
    if os.environ.get("UPDATE_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(ARTIFACTS / name, SCREENSHOTS / name)


def test_three_browsers_share_the_line(browser, server):
    (a_ctx, a), (b_ctx, b), (c_ctx, c) = (open_train(browser, server) for _ in range(3))
    try:
        expect(a.locator("#stop")).to_be_disabled(timeout=WAIT)  # nothing of A's yet
        a.locator("#start").click()
        expect(a.locator("#train-status")).to_contain_text("Training mlp", timeout=WAIT)
        wait_for(lambda: held_pids(server.marker, "run"), "A's run to hold at its first step")
        expect(a.locator("#stop")).to_be_enabled(timeout=WAIT)

        b.locator("#start").click()
        status = b.locator("#train-status")
        expect(status).to_contain_text("Another visitor's run is training: epoch 1 of 1", timeout=WAIT)
        expect(status).to_contain_text("yours is next, expected to start in about", timeout=WAIT)
        expect(b.locator("#train-progress")).to_contain_text("queued · #1 in line · starts in about", timeout=WAIT)
        expect(b.locator("#stop")).to_be_enabled(timeout=WAIT)  # B may take its run out of the line
        shoot(b, "queue.png")
        b.set_viewport_size({"width": 390, "height": 844})  # the same page on a phone's screen
        expect(status).to_contain_text("yours is next")
        shoot(b, "queue-phone.png")
        b.set_viewport_size({"width": 1280, "height": 900})

        expect(c.locator("#stop")).to_be_disabled(timeout=WAIT)  # C has nothing: its Stop is greyed out
        expect(c.locator("#train-status")).to_contain_text("Another visitor's run is training", timeout=WAIT)
        expect(a.locator("#train-status")).to_contain_text("Training mlp")  # A's run goes on

        name = re.search(r"Queued: run (\S+?);", status.inner_text()).group(1)
        b_ctx.close()  # B leaves while its run waits: it must still start by itself, finish and be listed
        a.locator("#stop").click()
        expect(a.locator("#train-progress")).to_have_attribute("data-status", "stopped", timeout=WAIT)
        # B's run (unheld, small) may train and end before the next look: its name on the server tells either way.
        client = Client(server.url, verbose=False)
        names = lambda: [row[0] for row in client.predict(api_name="/runs")[0]["data"]]  # noqa: E731
        wait_for(lambda: name in names(), "B's run to start by itself, finish and be listed")
        assert client.predict(api_name="/status")["server"]["queued"] == 0
    finally:
        for context in (a_ctx, b_ctx, c_ctx):
            context.close()
