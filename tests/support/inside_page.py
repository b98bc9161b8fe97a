"""The Inside tab in a real page: wait for the test-set map, which is built once per checkpoint in
the background (seconds to a minute); until then each explanation comes without it."""

from __future__ import annotations

from playwright.sync_api import expect


def ask_until_the_map_shows(page, tries: int = 30, each_ms: int = 20_000) -> None:
    """Press "random test digit" until the explanation carries the map (each press asks again)."""
    for _ in range(tries):
        page.locator("#inside-random").click()
        try:
            expect(page.locator("#inside-map .js-plotly-plot")).to_be_visible(timeout=each_ms)
            return
        except AssertionError:
            continue
    expect(page.locator("#inside-map .js-plotly-plot")).to_be_visible()
