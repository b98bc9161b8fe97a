"""A page-side record of which answers a page ever showed, for messages that do not stay on screen.

The Train tab's status line is overwritten by the 1 s progress poll, so a test that looks late can
miss "Started run"; a MutationObserver set before the click records it the moment it appears.
"""

from __future__ import annotations

# Set on a page before the clicks; `window.__answers` then holds 'started', 'queued' and/or 'refused'.
WATCH_ANSWERS_JS = """() => {
  window.__answers = new Set();
  const look = () => {
    const text = document.body.innerText;
    if (text.includes('Started run')) window.__answers.add('started');
    if (text.includes('A run is in progress')) window.__answers.add('refused');
    if (text.includes('Queued run')) window.__answers.add('queued');
  };
  new MutationObserver(look).observe(document.body, {subtree: true, childList: true, characterData: true});
  look();
}"""


def answered(kind: str) -> str:
    """A `page.wait_for_function` expression true once the page has shown the answer `kind`."""
    return f"() => window.__answers && window.__answers.has({kind!r})"
