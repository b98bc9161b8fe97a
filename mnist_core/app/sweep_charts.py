"""The Sweep tab's figures and table for one study: Optuna's own plotly visualisations, never re-drawn by hand,
restyled like the app's other charts (charts.layout: short titles, legend below, transparent background)
and made to read on a 390 px phone.

A figure Optuna cannot draw yet (no finished trial; importances need two completed trials that differ)
comes back as None with the reason, so the tab shows a message instead of an error.
"""

from __future__ import annotations

import math

import optuna
import pandas as pd
import plotly.colors
from optuna.trial import TrialState

from . import charts

TABLE_COLUMNS = ("trial", "state", "val_acc", "test_acc", "seconds", "checkpoint")
# The trials table's headers on the page (as the Runs table's): words, not the row keys.
HEADERS = {"val_acc": "val accuracy", "test_acc": "test accuracy", "seconds": "train time (s)"}


def empty_table() -> pd.DataFrame:
    """The trials table before any study: its headers (an empty gr.Dataframe shows "1 2 3" instead)."""
    return pd.DataFrame(columns=list(TABLE_COLUMNS)).rename(columns=HEADERS)


def sweep_figures(study: optuna.Study) -> dict[str, object]:
    """{'history', 'parallel', 'importance'}: a plotly Figure each, or a str saying why there is none yet."""
    from optuna import visualization as vis

    complete = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    out: dict[str, object] = {}
    if not complete:
        reason = "no completed trial yet"
        return {"history": reason, "parallel": reason, "importance": reason}
    out["history"] = _history(vis.plot_optimization_history(study, target_name="val accuracy"))
    out["parallel"] = _parallel(vis.plot_parallel_coordinate(study, target_name="val accuracy"))
    varied = {k for t in complete for k in t.params}
    if len(complete) < 2 or not varied:
        out["importance"] = "parameter importances need at least two completed trials"
    else:
        try:
            out["importance"] = _importance(vis.plot_param_importances(study, target_name="val accuracy"))
        except (RuntimeError, ValueError) as exc:  # e.g. every completed trial has the same params
            out["importance"] = f"parameter importances not available yet ({exc})"
    return out


def _restyle(fig, title: str, height: int, subtitle: str | None = None):
    """Optuna's figure in the app's layout; its own template (a grey plot on white) is dropped."""
    fig.update_layout(charts.layout(title, subtitle, height=height))
    fig.update_layout(paper_bgcolor=charts.CLEAR, plot_bgcolor=charts.CLEAR)  # parallel coordinates set white
    return fig


def _history(fig):
    fig = _restyle(fig, "Optimisation history", 340)
    trials = len(fig.data[0].x) if fig.data else 0
    fig.update_xaxes(title_text="trial", dtick=1 if trials <= 10 else None, nticks=8)
    for trace in fig.data:  # Optuna's legend says "Objective Value" / "Best Value"
        trace.name = {"Best Value": "best so far"}.get(trace.name, trace.name)
    return fig


# Parallel coordinates' lines from the worst trial (steel blue) to the best (orange): both of middle brightness,
# so every line reads on a white page and on a dark one (Optuna's Blues end in a navy that vanishes on dark).
LINE_SCALE = [[0.0, "#8da0cb"], [0.5, "#b48ac0"], [1.0, "#ff7f0e"]]


def _parallel(fig):
    """Optuna draws each parameter as a vertical axis whose tick labels are annotations left of it: on a
    phone, six axes are ~50 px apart, so labels are cut to two significant digits (0.000201 -> 2e-4)
    and the colour bar, which repeats the first axis, gives its width back to the axes. Each trial's line
    is recoloured on LINE_SCALE by its val accuracy (its height on the first axis, the objective's, 0 to 1)."""
    fig = _restyle(fig, "Parallel coordinates", 400, "one line per trial, orange: higher val accuracy")
    for note in fig.layout.annotations:
        note.text = _tick(note.text)
        note.font = dict(size=10)
    for trace in fig.data:
        if trace.marker is not None and trace.marker.showscale:
            trace.marker.showscale = False
            trace.marker.colorscale = LINE_SCALE
        elif trace.mode == "lines" and trace.y and trace.y[0] is not None:
            trace.line.color = plotly.colors.sample_colorscale(LINE_SCALE, min(max(float(trace.y[0]), 0.0), 1.0))[0]
            trace.opacity = 0.8
    fig.update_xaxes(tickfont=dict(size=11), automargin=True)  # long names turn on their own when crowded
    # The first axis's tick labels are annotations left of it, which automargin does not count: room for "0.96".
    fig.update_layout(margin=dict(l=34))
    return fig


def _importance(fig):
    fig = _restyle(fig, "Parameter importances", 300)
    fig.update_xaxes(title_text="importance (fANOVA)", nticks=5)
    fig.update_yaxes(title_text=None, automargin=True)
    fig.update_traces(showlegend=False, texttemplate="%{x:.2f}", marker_color=charts.COLORS[0])
    # Room right of the longest bar for its value (on a phone "0.85" was cut at the chart's edge).
    longest = max((max(t.x, default=0) for t in fig.data if t.x is not None), default=0)
    fig.update_xaxes(range=[0, max(longest, 0.01) * 1.2])
    return fig


def _tick(text: str) -> str:
    """A tick label in at most five characters or so: 254, 2.5, 0.90, 0.066, 2e-4 (categories unchanged)."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        return text  # a category
    size = abs(value)
    if value == 0 or not math.isfinite(value):
        return text
    if size >= 10:
        return f"{value:.0f}"
    if size >= 0.1:
        return f"{value:.2f}" if size < 1 else f"{value:.2g}"
    if size >= 0.01:
        return f"{value:.2g}"
    return f"{value:.0e}".replace("e-0", "e-")


def trials_table(study: optuna.Study) -> pd.DataFrame:
    """One row per trial, newest first: number, state, validation/test accuracy, seconds, params, checkpoint."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        value = t.value if t.value is not None else _last(t.intermediate_values)
        row = {
            "trial": t.number,
            "state": t.state.name.lower(),
            "val_acc": value,
            "test_acc": t.user_attrs.get("test_accuracy"),
            "seconds": t.user_attrs.get("train_seconds"),
            "checkpoint": t.user_attrs.get("checkpoint", ""),
        }
        rows.append({**row, **{k: _short(v) for k, v in t.params.items()}})
    frame = pd.DataFrame(rows, columns=None if rows else list(TABLE_COLUMNS))
    return frame.sort_values("trial", ascending=False, ignore_index=True) if rows else frame


def _last(values: dict[int, float]) -> float | None:
    return values[max(values)] if values else None


def _short(v):
    return float(f"{v:.4g}") if isinstance(v, float) and math.isfinite(v) else v
