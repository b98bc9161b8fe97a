"""Data tab: labelled MNIST training digits."""

from __future__ import annotations

from .. import charts
from ..context import AppContext
from ..images import png_file

SAMPLES_SHOWN = 30
MODES = ("first 30 training digits", "3 random digits of each class")


class DataTab:
    """Handlers of the Data tab."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def samples(self, mode: str) -> list[tuple]:
        """A grid of labelled training digits: the first 30, or 3 random ones of each class."""
        data = self.ctx.data()
        labels = data.train_labels
        indices = list(range(SAMPLES_SHOWN)) if mode == MODES[0] else charts.per_class_indices(labels, 3)
        return [
            (png_file(charts.enlarge(data.train_images[i].numpy(), 84)), f"#{i}: label {int(labels[i])}")
            for i in indices
        ]
