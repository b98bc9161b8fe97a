"""The app's handlers bound to one job manager and run registry, exactly as `app.build_demo` binds them."""

from __future__ import annotations

from pathlib import Path

from mnist_core.app.context import AppContext
from mnist_core.app.jobs import JobManager
from mnist_core.app.registry import RunRegistry
from mnist_core.app.tabs.curves import CurvesTab
from mnist_core.app.tabs.data import DataTab
from mnist_core.app.tabs.draw import DrawTab
from mnist_core.app.tabs.evaluate import EvaluateTab
from mnist_core.app.tabs.inside import InsideTab
from mnist_core.app.tabs.runs import RunsTab
from mnist_core.app.tabs.sweep import SweepTab
from mnist_core.app.tabs.train import TrainTab


class Lab:
    """What the tests call: `lab.draw.predict_sketch(...)`, `lab.ctx.jobs`, ... (`folder`: the checkpoints)."""

    def __init__(self, jobs: JobManager, registry: RunRegistry, folder: Path | None = None) -> None:
        self.ctx = AppContext(jobs, registry)
        self.folder = folder
        self.draw, self.train, self.curves = DrawTab(self.ctx), TrainTab(self.ctx), CurvesTab(self.ctx)
        self.evaluate, self.data, self.runs = EvaluateTab(self.ctx), DataTab(self.ctx), RunsTab(self.ctx)
        self.inside = InsideTab(self.ctx)
        self.sweep = SweepTab(self.ctx)
