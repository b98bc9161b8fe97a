"""Latest-wins for answers about a form that changes faster than they come back.

Each change the visitor makes to the Train form sends the whole form, and the requests are answered
concurrently: an answer that takes longer (the first estimate loads torch; a speed probe) could land
after the answer about a newer form and leave a wrong note, estimate or address on the page. Each
request therefore carries a token "<page>:<n>" counted up in the browser (`TOKEN_JS`), and a handler
sends an answer only while its token is still the newest of its page, checked when the answer is
ready. (A fill, from a preset, a link or a run, sends no such requests: it derives them itself.)
"""

from __future__ import annotations

import threading
from collections import OrderedDict

# Event preprocessing in the browser: replaces the first input (a hidden token box) with this page's
# id and the next number, before the event reads the form. Math.random, as crypto.randomUUID needs https.
TOKEN_JS = """(token, ...rest) => {
  window.formPage ??= Math.random().toString(36).slice(2);
  window.formSeq = (window.formSeq ?? 0) + 1;
  return [`${window.formPage}:${window.formSeq}`, ...rest];
}"""


class LatestAnswers:
    """The newest token seen per page; answers for older ones are stale. Bounded: the oldest pages
    are forgotten first (a forgotten page's answers count as current, as before this guard)."""

    def __init__(self, max_pages: int = 10_000) -> None:
        self._newest: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()
        self._max_pages = max_pages

    def begin(self, token: str | None) -> None:
        """Record a request's token (`None` or malformed: not tracked, always current)."""
        parsed = _parse(token)
        if parsed is None:
            return
        page, n = parsed
        with self._lock:
            if n > self._newest.get(page, -1):
                self._newest[page] = n
            self._newest.move_to_end(page)
            while len(self._newest) > self._max_pages:
                self._newest.popitem(last=False)

    def current(self, token: str | None) -> bool:
        """Whether no newer request of the same page has begun since this one."""
        parsed = _parse(token)
        if parsed is None:
            return True
        page, n = parsed
        with self._lock:
            return n >= self._newest.get(page, n)


def _parse(token: str | None) -> tuple[str, int] | None:
    page, _, n = str(token or "").rpartition(":")
    return (page, int(n)) if page and n.isdigit() else None
