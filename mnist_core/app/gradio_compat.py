"""The only place that relies on Gradio details outside its public API; each use says why.

tests/test_gradio_compat.py checks every detail against the installed Gradio, so an upgrade that
renames one fails a test instead of silently changing the app.
"""

from __future__ import annotations

import gradio as gr

# Gradio's queue looks for work every 1 ms when idle (and for progress every 10 ms): ~900 wake-ups a
# second, 6% of a core with nobody on the page, each one pre-empting a training step on a small
# machine. 10 ms / 50 ms cut that to ~130 wake-ups and 2% (benchmarks/RESULTS.md) and add at most
# 10 ms before an event starts. Gradio has no public setting for either.
QUEUE_IDLE_POLL_SECONDS = 0.01
QUEUE_PROGRESS_POLL_SECONDS = 0.05
QUEUE_POLL_ATTRIBUTES = {
    "sleep_when_free": QUEUE_IDLE_POLL_SECONDS,
    "progress_update_sleep_when_free": QUEUE_PROGRESS_POLL_SECONDS,
}


def calm_queue(demo: gr.Blocks) -> bool:
    """Slow the idle polling of `demo`'s queue (after `demo.queue(...)`); False if Gradio renamed it."""
    queue = getattr(demo, "_queue", None)
    if queue is None or not all(hasattr(queue, name) for name in QUEUE_POLL_ATTRIBUTES):
        return False
    for name, seconds in QUEUE_POLL_ATTRIBUTES.items():
        setattr(queue, name, seconds)
    return True
