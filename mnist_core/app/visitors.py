"""Who is asking: one id per visitor, so that each run, sweep and chosen model has an owner.

A browser keeps a random id in its localStorage (`gr.BrowserState`), so its tabs and reloads are one
visitor; an API client (gradio_client) has no browser storage and is known by its session instead.
"""

from __future__ import annotations

import secrets

import gradio as gr

STORAGE_KEY = "mnist-lab-visitor"
# Fixed, so that a browser's id survives a server restart (BrowserState's default secret is new at each start,
# and an id the new server cannot decrypt would lose the visitor's runs and the notice of a dropped job). The
# id is no secret from its own browser anyway: the page's config carries the key.
SECRET = "mnist-digit-lab-visitor-id"
LOCAL = "local"  # the owner of jobs started without a request (scripts, tests calling the manager directly)


def visitor_state() -> gr.BrowserState:
    """The page's visitor id, kept by the browser across reloads and tabs (filled by `ensure_visitor`)."""
    return gr.BrowserState("", storage_key=STORAGE_KEY, secret=SECRET)


def session_visitor() -> gr.State:
    """The visitor id for the API events (`train`, `stop`, `status`, `sweep`): a per-session State, which Gradio
    keeps out of the API, filled from the browser's id at page load (`claim_visitor`). A BrowserState input
    would be an API parameter, letting a client name any visitor; an API client's State stays "" instead,
    so `visitor_id` gives it its session."""
    return gr.State("")


def ensure_visitor(stored: str | None) -> str:
    """The browser's id, made on its first visit (a page-load event writes it back into BrowserState)."""
    return stored if stored else "browser:" + secrets.token_urlsafe(12)


def claim_visitor(stored: str | None) -> tuple[str, str]:
    """The page load's answer for (visitor_state, session_visitor): the browser's id, made on its first visit."""
    visitor = ensure_visitor(stored)
    return visitor, visitor


def visitor_id(stored: str | None, request: gr.Request | None) -> str:
    """The caller's owner id: the browser's stored id, else the API client's session, else LOCAL."""
    if stored:
        return stored
    session = getattr(request, "session_hash", None) if request is not None else None
    return f"session:{session}" if session else LOCAL
