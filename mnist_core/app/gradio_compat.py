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


# The sketchpad starts, and restarts after "clear", with no tool selected ("select the draw tool to
# start"), and Gradio has no option to start with the brush. Whenever no tool is highlighted, this
# clicks the brush button for the user so they can just draw. It relies on the toolbar's markup:
# a button labelled "Brush" (the class `highlight` marks the selected tool).
SELECT_BRUSH_JS = """() => {
  const pick = (pad) => {
    if (pad.querySelector('button.highlight')) return;
    const brush = pad.querySelector('button[aria-label="Brush"]');
    if (brush) brush.click();
  };
  const watch = () => {
    const pad = document.querySelector('#sketchpad');
    if (!pad) return setTimeout(watch, 200);
    new MutationObserver(() => pick(pad)).observe(pad, {subtree: true, childList: true, attributes: true, attributeFilter: ['class']});
    pick(pad);
  };
  watch();
}"""
