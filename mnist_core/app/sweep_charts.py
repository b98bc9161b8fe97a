"""The Sweep tab's figures and table for one study: Optuna's own plotly visualisations, never re-drawn by hand.

A figure Optuna cannot draw yet (no finished trial; importances need two completed trials that differ)
comes back as None with the reason, so the tab shows a message instead of an error.
"""

from __future__ import annotations

import math

import optuna
import pandas as pd
from optuna.trial import TrialState

TABLE_COLUMNS = ("trial", "state", "val_acc", "test_acc", "seconds", "checkpoint")


def sweep_figures(study: optuna.Study) -> dict[str, object]:
    """{'history', 'parallel', 'importance'}: a plotly Figure each, or a str saying why there is none yet."""
    from optuna import visualization as vis

    complete = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    out: dict[str, object] = {}
    if not complete:
        reason = "no completed trial yet"
        return {"history": reason, "parallel": reason, "importance": reason}
    out["history"] = vis.plot_optimization_history(study, target_name="val accuracy")
    out["parallel"] = vis.plot_parallel_coordinate(study, target_name="val accuracy")
    varied = {k for t in complete for k in t.params}
    if len(complete) < 2 or not varied:
        out["importance"] = "parameter importances need at least two completed trials"
    else:
        try:
            out["importance"] = vis.plot_param_importances(study, target_name="val accuracy")
        except (RuntimeError, ValueError) as exc:  # e.g. every completed trial has the same params
            out["importance"] = f"parameter importances not available yet ({exc})"
    return out


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
