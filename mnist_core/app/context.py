"""What every tab's handlers share: the server's job manager and run registry, MNIST, and user errors.

Nothing under mnist_core.app imports torch (or a module that does) at import time: torch loads in
the warm-up behind the first page, or at a handler's first call, so the page comes 1.3-1.5 s sooner
(benchmarks/RESULTS.md, app start). tests/test_imports.py checks it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import gradio as gr

from .jobs import JobManager
from .registry import RunRegistry

if TYPE_CHECKING:
    from ..data import MNISTTensors

log = logging.getLogger("mnist_app")


@dataclass
class AppContext:
    """The one job manager and run registry of a server; handlers read them at call time."""

    jobs: JobManager
    registry: RunRegistry

    def __post_init__(self) -> None:
        # Retention (MNIST_KEEP_RUNS) runs in the registry's listing, sparing what the jobs still need.
        self.registry.retain(self.jobs.caps.keep_runs, self.protected_runs)

    def protected_runs(self) -> set[str]:
        """Runs retention and Delete must leave alone: the running job's and the queued jobs' runs."""
        return set(self.jobs.protected_runs())

    def data(self) -> MNISTTensors:
        """MNIST tensors, loaded once on first use (not at start-up, so the page is served fast)."""
        from ..data import load_mnist_cached

        return load_mnist_cached(log=log.info)

    def warm_up(self) -> None:
        """Start the training process and load the default model and MNIST, so first uses are quick.

        The server's own work (a drawing, an explanation) runs on one torch thread: training has its
        own process, and two intra-op threads fighting it for two cores made a 4-digit read 66-78 ms
        instead of 6-10 ms, an explanation 1.9 s instead of 87 ms (benchmarks/RESULTS.md). Its malloc is
        set as the training process's: the Train tab's speed probe times training steps here, and untuned
        they ran 20-40% slower than the run they estimate (allocator.py)."""
        import torch

        from ..allocator import keep_freed_memory
        from ..device import training_threads

        training_threads()  # torch's default, which the training child keeps: read before lowering ours
        torch.set_num_threads(1)
        keep_freed_memory()
        try:
            self.jobs.warm_up()
            self.registry.predictor(None)
            self.data()
            import captum.attr  # noqa: F401 - the Inside tab's first explanation would wait ~0.4 s for it
        except Exception as exc:  # noqa: BLE001 - warm-up is best effort; the handlers report real errors
            log.warning("warm-up skipped: %s", exc)


def user_error(exc: Exception | str) -> gr.Error:
    """A readable message for the page or the API client, never a traceback."""
    return gr.Error(str(exc), print_exception=False)
