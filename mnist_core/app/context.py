"""What every tab's handlers share: the server's job manager and run registry, MNIST, and user errors."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import gradio as gr

from ..data import MNISTTensors, load_mnist_cached
from .jobs import JobManager
from .registry import RunRegistry

log = logging.getLogger("mnist_app")


@dataclass
class AppContext:
    """The one job manager and run registry of a server; handlers read them at call time."""

    jobs: JobManager
    registry: RunRegistry

    def data(self) -> MNISTTensors:
        """MNIST tensors, loaded once on first use (not at start-up, so the page is served fast)."""
        return load_mnist_cached(log=log.info)

    def warm_up(self) -> None:
        """Start the training process and load the default model and MNIST, so first uses are quick."""
        try:
            self.jobs.warm_up()
            self.registry.predictor(None)
            self.data()
        except Exception as exc:  # noqa: BLE001 - warm-up is best effort; the handlers report real errors
            log.warning("warm-up skipped: %s", exc)


def user_error(exc: Exception | str) -> gr.Error:
    """A readable message for the page or the API client, never a traceback."""
    return gr.Error(str(exc), print_exception=False)
