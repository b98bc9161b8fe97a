"""Every Gradio detail outside its public API that the app relies on, checked against the installed Gradio.

`mnist_core/app/gradio_compat.py` is the only module that touches them; if an upgrade renames one,
a test here fails instead of the app silently changing behaviour.
"""

from __future__ import annotations

import gradio as gr

import app as app_module
from mnist_core.app import gradio_compat


def test_the_queue_polls_calmly_when_idle(lab):
    """Gradio's idle loop wakes every 1 ms by default; the app's queue waits 10 ms (and 50 ms for progress)."""
    fresh = gr.Blocks()
    fresh.queue()
    defaults = {name: getattr(fresh._queue, name) for name in gradio_compat.QUEUE_POLL_ATTRIBUTES}
    assert all(defaults[name] < seconds for name, seconds in gradio_compat.QUEUE_POLL_ATTRIBUTES.items()), defaults

    demo = app_module.configure_queue(app_module.build_demo(lab.ctx.jobs, lab.ctx.registry))
    for name, seconds in gradio_compat.QUEUE_POLL_ATTRIBUTES.items():
        assert getattr(demo._queue, name) == seconds, f"Gradio renamed or ignores its queue's {name}"
    assert demo._queue.max_size == 64


def test_calm_queue_says_when_gradio_has_no_such_setting():
    class Renamed:
        pass

    blocks = gr.Blocks()
    blocks._queue = Renamed()
    assert gradio_compat.calm_queue(blocks) is False
