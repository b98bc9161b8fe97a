"""Settings shared by the page's events: which are the page's own, and how predictions queue.

The API is the events given a name (README, "API events"). Every other event is the page's own:
hidden from the API, and named `page` (`page_1`, ...) rather than after its function, because
Gradio names an event after its function even when it is private, and an API event asking later for
a taken name is served as `<name>_1`: the Inside tab's private `explain` once made the API's
`explain` `/explain_2` (tests/test_api_names.py).
"""

from __future__ import annotations

PRIVATE = dict(api_name="page", api_visibility="private")
# Predictions share one queue of two workers, and show no progress overlay (they take milliseconds).
PREDICT = dict(concurrency_id="predict", concurrency_limit=2, show_progress="hidden")
