"""The job's progress bar as HTML: shown by the Train tab, refreshed by the page's tick, captioned by the Sweep tab."""

from __future__ import annotations

from .jobs import JobState


def progress_html(s: JobState) -> str:
    """A progress bar with the run's state."""
    color = {"failed": "#d62728", "stopped": "#ff7f0e", "done": "#2ca02c"}.get(s.status, "#1f77b4")
    pct = max(0.0, min(1.0, s.progress)) * 100
    current = min(s.epoch + 1, s.epochs) if s.active else s.epoch  # the epoch in progress, else the last one
    caption = f"{s.status} · {pct:.0f}% · epoch {current}/{s.epochs} · {s.elapsed:.0f} s" if s.run_id else "idle"
    if s.status == "queued":  # waiting in line: its place, and when it should start
        caption = f"queued · #{s.position} in line"
        if s.wait_seconds is not None:
            from .job_state import duration_text

            caption += f" · starts in about {duration_text(s.wait_seconds)}"
    return (
        f'<div id="train-progress" data-status="{s.status}" style="width:100%">'
        f'<div style="height:14px;border-radius:7px;background:#e5e7eb;overflow:hidden">'
        f'<div style="height:100%;width:{pct:.1f}%;background:{color}"></div></div>'
        f'<div style="font-size:0.9em;margin-top:4px">{caption}</div></div>'
    )
