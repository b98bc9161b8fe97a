"""Data tab: labelled MNIST training digits."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from .. import charts
from ..context import AppContext
from ..events import PRIVATE
from ..images import DIGIT_GALLERY, png_file

SAMPLES_SHOWN = 30
MODES = ("first 30 training digits", "3 random digits of each class")


@dataclass(frozen=True)
class DataView:
    """The Data tab's components, by name (DataTab.build)."""

    mode: gr.Radio
    samples: gr.Gallery


class DataTab:
    """Handlers of the Data tab."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def build(self, tab: gr.Tab) -> DataView:
        """The tab's components and events, inside app.py's `with gr.Tab("Data") as tab`: the digits
        are drawn when the tab is opened or the choice changes."""
        mode = gr.Radio(list(MODES), value=MODES[0], label="Show")
        samples = gr.Gallery(label="MNIST samples", columns=10, height="auto", elem_classes=DIGIT_GALLERY)
        mode.change(self.samples, mode, samples, **PRIVATE)
        tab.select(self.samples, mode, samples, **PRIVATE)
        return DataView(mode=mode, samples=samples)

    def samples(self, mode: str) -> list[tuple]:
        """A grid of labelled training digits: the first 30, or 3 random ones of each class."""
        data = self.ctx.data()
        labels = data.train_labels
        indices = list(range(SAMPLES_SHOWN)) if mode == MODES[0] else charts.per_class_indices(labels, 3)
        return [
            (png_file(charts.enlarge(data.train_images[i].numpy(), 84)), f"#{i}: label {int(labels[i])}")
            for i in indices
        ]
