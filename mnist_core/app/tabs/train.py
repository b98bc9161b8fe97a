"""Train tab: start, stop and follow a background run (API events `train`, `stop`, `status`)."""

from __future__ import annotations

from typing import Any

from ...config import TrainConfig
from ..context import AppContext, user_error
from ..jobs import JobError, JobState


def progress_html(s: JobState) -> str:
    """A progress bar with the run's state."""
    color = {"failed": "#d62728", "stopped": "#ff7f0e", "done": "#2ca02c"}.get(s.status, "#1f77b4")
    pct = max(0.0, min(1.0, s.progress)) * 100
    current = min(s.epoch + 1, s.epochs) if s.active else s.epoch  # the epoch in progress, else the last one
    caption = f"{s.status} · {pct:.0f}% · epoch {current}/{s.epochs} · {s.elapsed:.0f} s" if s.run_id else "idle"
    return (
        f'<div id="train-progress" data-status="{s.status}" style="width:100%">'
        f'<div style="height:14px;border-radius:7px;background:#e5e7eb;overflow:hidden">'
        f'<div style="height:100%;width:{pct:.1f}%;background:{color}"></div></div>'
        f'<div style="font-size:0.9em;margin-top:4px">{caption}</div></div>'
    )


class TrainTab:
    """Handlers of the Train tab."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def start_training(self, **hyperparameters: Any) -> str:
        """Validate the hyperparameters and start a background run (API `train`); refused if one is running."""
        try:
            cfg = TrainConfig.from_dict({k: v for k, v in hyperparameters.items() if v is not None})
            state = self.ctx.jobs.start(cfg)
        except (ValueError, JobError) as exc:
            raise user_error(exc) from None
        return f"Started run **{state.name}**: {state.message}"

    def stop_training(self) -> str:
        """Ask the running job to stop (API `stop`); the last completed epoch is kept."""
        state = self.ctx.jobs.stop()
        return state.message if state.active else f"No run in progress. {state.message}"

    def training_status(self) -> dict:
        """The current run's status, progress and metrics (API `status`)."""
        s = self.ctx.jobs.snapshot()
        return {
            "status": s.status,
            "message": s.message,
            "progress": round(s.progress, 4),
            "epoch": s.epoch,
            "epochs": s.epochs,
            "run": s.name,
            "metrics": s.metrics,
            "error": s.error,
        }
