"""Plotly figures and tables for the app: pure functions of plain data (lists, dicts), no I/O.

Curves take a list of `Series` so that several runs can be overlaid: each run keeps one colour,
training drawn solid and validation dashed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22")
DIGITS = [str(d) for d in range(10)]


def _slim_template(name: str = "plotly_white") -> dict:
    """`name` cut down to what these 2-D charts use.

    Plotly validates a figure's whole template on every construction: ~7 ms for plotly_white's
    3-D, polar and geo defaults, paid by each poll of a live run and each prediction.
    """
    full = pio.templates[name].to_plotly_json()
    layout_keys = ("autotypenumbers", "colorway", "font", "hovermode", "hoverlabel", "paper_bgcolor", "plot_bgcolor")
    layout_keys += ("xaxis", "yaxis", "title", "annotationdefaults", "shapedefaults", "colorscale", "coloraxis")
    return {
        "layout": {k: v for k, v in full["layout"].items() if k in layout_keys},
        "data": {k: v for k, v in full["data"].items() if k in ("scatter", "bar", "heatmap")},
    }


_LAYOUT = dict(
    template=_slim_template(),
    margin=dict(l=60, r=20, t=50, b=50),
    height=340,
    legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1.0),
    font=dict(size=13),
)


@dataclass
class Series:
    """One run's history: `steps` are {'step', 'epoch', 'loss'}; `epochs` are per-epoch metrics dicts."""

    label: str
    steps: list[dict] = field(default_factory=list)
    epochs: list[dict] = field(default_factory=list)


def _empty(fig: go.Figure, text: str) -> go.Figure:
    """Write `text` across an empty chart and hide its meaningless tick labels."""
    fig.add_annotation(text=text, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper", font=dict(size=15))
    fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False, range=[0, 1])
    fig.update_yaxes(showticklabels=False, showgrid=False, zeroline=False, range=[0, 1])
    return fig


def step_loss_figure(runs: Sequence[Series], title: str = "Training loss per step") -> go.Figure:
    """Training loss against progress in epochs (so runs with different batch sizes line up)."""
    fig = go.Figure(layout=dict(title=title, **_LAYOUT))
    fig.update_xaxes(title_text="epoch (fraction of the way through training)", rangemode="tozero")
    fig.update_yaxes(title_text="cross-entropy loss", rangemode="tozero")
    drawn = 0
    for i, run in enumerate(runs):
        if not run.steps:
            continue
        drawn += 1
        fig.add_trace(
            go.Scatter(
                x=[p["epoch"] for p in run.steps],
                y=[p["loss"] for p in run.steps],
                mode="lines",
                name=run.label,
                line=dict(color=COLORS[i % len(COLORS)], width=2),
                customdata=[p.get("step") for p in run.steps],
                hovertemplate="step %{customdata}<br>epoch %{x:.2f}<br>loss %{y:.4f}<extra>" + run.label + "</extra>",
            )
        )
    if not drawn:
        return _empty(fig, "No steps yet: start a run in the Train tab, or pick past runs to compare.")
    return fig


def _epoch_figure(runs: Sequence[Series], metric: str, title: str, y_title: str, percent: bool) -> go.Figure:
    fig = go.Figure(layout=dict(title=title, **_LAYOUT))
    fig.update_xaxes(title_text="epoch", dtick=1 if max((len(r.epochs) for r in runs), default=0) <= 20 else None)
    fig.update_yaxes(title_text=y_title, tickformat=".1%" if percent else None)
    drawn, lows = 0, []
    for i, run in enumerate(runs):
        color = COLORS[i % len(COLORS)]
        for split, dash in (("train", "solid"), ("val", "dash")):
            points = [(e["epoch"], e[f"{split}_{metric}"]) for e in run.epochs if f"{split}_{metric}" in e]
            if not points:
                continue
            drawn += 1
            lows.append(min(y for _, y in points))
            fig.add_trace(
                go.Scatter(
                    x=[x for x, _ in points],
                    y=[y for _, y in points],
                    mode="lines+markers",
                    name=f"{run.label} · {'validation' if split == 'val' else 'train'}",
                    line=dict(color=color, dash=dash, width=2),
                    marker=dict(size=7),
                    hovertemplate=f"epoch %{{x}}<br>{metric} %{{y:{'.2%' if percent else '.4f'}}}<extra></extra>",
                )
            )
    if not drawn:
        return _empty(fig, "No completed epoch yet.")
    # Four entries per pair of runs do not fit beside a half-width chart's title: list them below it.
    fig.update_layout(
        legend=dict(orientation="h", yanchor="top", y=-0.22, xanchor="left", x=0.0),
        height=340 + 22 * drawn,
        margin=dict(l=60, r=20, t=50, b=80 + 22 * drawn),
    )
    if percent:
        # Zoom on the interesting part: accuracies live near 100 %, but never hide a bad run.
        fig.update_yaxes(range=[max(0.0, min(min(lows), 0.9) - 0.02), 1.002])
    else:
        fig.update_yaxes(rangemode="tozero")
    return fig


def epoch_loss_figure(runs: Sequence[Series]) -> go.Figure:
    """Train (solid) and validation (dashed) loss per epoch, one colour per run."""
    return _epoch_figure(runs, "loss", "Loss per epoch (solid: train, dashed: validation)", "cross-entropy loss", False)


def epoch_accuracy_figure(runs: Sequence[Series]) -> go.Figure:
    """Train (solid) and validation (dashed) accuracy per epoch, one colour per run."""
    return _epoch_figure(runs, "acc", "Accuracy per epoch (solid: train, dashed: validation)", "accuracy", True)


def probability_figure(probabilities: Sequence[float] | None, true_label: int | None = None) -> go.Figure:
    """Bar chart of the ten digit probabilities; the top digit highlighted, the true one outlined."""
    probs = list(probabilities) if probabilities is not None else [0.0] * 10
    top = max(range(10), key=lambda d: probs[d]) if any(probs) else None
    colors = ["#1f77b4" if d == top else "#aec7e8" for d in range(10)]
    fig = go.Figure(
        go.Bar(
            x=DIGITS,
            y=probs,
            marker=dict(
                color=colors,
                line=dict(color=["#d62728" if d == true_label else "rgba(0,0,0,0)" for d in range(10)], width=3),
            ),
            text=[f"{p:.0%}" if p >= 0.005 else "" for p in probs],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="digit %{x}: %{y:.2%}<extra></extra>",
        ),
        layout=dict(title="Probability of each digit", **{**_LAYOUT, "height": 300}),
    )
    fig.update_xaxes(title_text="digit", type="category")
    fig.update_yaxes(title_text="probability", range=[0, 1.1], tickformat=".0%", dtick=0.25)
    if top is None:
        _empty(fig, "no digit")
    return fig


def confusion_figure(confusion: Sequence[Sequence[int]], title: str = "Confusion matrix (test set)") -> go.Figure:
    """Heatmap of counts, rows = true digit, columns = predicted digit, counts written in the cells."""
    z = [list(map(int, row)) for row in confusion]
    # Colour by log-ish scale so the few mistakes are visible next to ~1000 correct per digit.
    shade = [[(c**0.35) for c in row] for row in z]
    peak = max((max(row) for row in shade), default=1) or 1
    fig = go.Figure(
        go.Heatmap(
            z=shade,
            x=DIGITS,
            y=DIGITS,
            customdata=z,
            text=[[str(c) if c else "" for c in row] for row in z],
            texttemplate="%{text}",
            textfont=dict(size=12),
            colorscale="Blues",
            zmin=0,
            zmax=peak,
            showscale=False,
            hovertemplate="true %{y}, predicted %{x}: %{customdata}<extra></extra>",
            xgap=1,
            ygap=1,
        ),
        layout=dict(title=title, **{**_LAYOUT, "height": 520, "margin": dict(l=70, r=20, t=60, b=60)}),
    )
    fig.update_xaxes(title_text="predicted digit", type="category", side="bottom", constrain="domain")
    fig.update_yaxes(title_text="true digit", type="category", autorange="reversed", scaleanchor="x")
    return fig


def per_class_table(
    precision: Sequence[float], recall: Sequence[float], confusion: Sequence[Sequence[int]] | None = None
) -> pd.DataFrame:
    """Per-digit precision, recall, F1 (and support / errors when the confusion matrix is given)."""
    rows = []
    for d in range(10):
        p, r = float(precision[d]), float(recall[d])
        row = {"digit": d, "precision": round(p, 4), "recall": round(r, 4)}
        row["f1"] = round(2 * p * r / (p + r), 4) if p + r else 0.0
        if confusion is not None:
            support = int(sum(confusion[d]))
            row["support"] = support
            row["errors"] = support - int(confusion[d][d])
        rows.append(row)
    return pd.DataFrame(rows)


def enlarge(image: np.ndarray, side: int = 168) -> np.ndarray:
    """A small grey image (e.g. 28x28, float in [0, 1] or uint8) scaled up with nearest-neighbour, as uint8.

    Browsers smooth small images when they scale them up; enlarging on the server keeps pixels crisp.
    """
    array = np.asarray(image)
    if array.dtype != np.uint8:
        array = (np.clip(array.astype(np.float32), 0.0, 1.0) * 255).round().astype(np.uint8)
    factor = max(1, side // max(array.shape[:2]))
    return np.kron(array, np.ones((factor, factor), dtype=np.uint8))


def per_class_indices(labels: Sequence[int], per_class: int, seed: int | None = None) -> list[int]:
    """`per_class` random indices of each digit 0-9, ordered by digit (for a sample grid)."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    picked: list[int] = []
    for digit in range(10):
        where = np.flatnonzero(labels == digit)
        take = min(per_class, len(where))
        picked.extend(int(i) for i in rng.choice(where, size=take, replace=False))
    return picked
