"""Playwright for the browser tests, or a skip of the importing test module where it cannot run.

`from tests.support.browser import sync_api, expect` at the top of a test module: without Debian's
chromium or the playwright package the whole module is skipped, with the reason.
"""

from __future__ import annotations

import pytest

from tests.support.server import CHROMIUM

if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
expect = sync_api.expect
