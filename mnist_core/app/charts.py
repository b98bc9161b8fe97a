"""Plotly figures and tables for the app: pure functions of plain data (lists, dicts), no I/O.

Curves take a list of `Series` so that several runs can be overlaid: each run keeps one colour,
training drawn solid and validation dashed. Every figure has a transparent background, grey grid
lines and its legend below the plot, so that it reads on a 390 px phone and on a dark page
(CSS recolours the text there: Plotly writes colours inline, unaware of the page's theme).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22")
DIGITS = [str(d) for d in range(10)]
INK = "#2a3f5f"  # text on a light page; CHART_CSS turns it to the page's text colour on a dark one
GRID = "rgba(128, 128, 128, 0.25)"  # grey at a quarter: visible on white and on the dark theme's grey-black
CLEAR = "rgba(0, 0, 0, 0)"
# The toolbar keeps download, zoom, pan and reset: the rest crowded the title on a half-width chart.
MODEBAR = dict(remove=["zoomIn2d", "zoomOut2d", "autoScale2d", "lasso2d", "select2d"], bgcolor=CLEAR, color="#8c8c8c")

# Plotly colours its SVG text and lines inline; on a dark page (Gradio puts .dark on the body) they are
# recoloured here. Heatmap cells keep their own contrast colours. On a phone the toolbar, which
# appears on a tap, would cover the title: it is hidden there (Plotly's config is not Gradio's to pass).
CHART_CSS = """
.dark .js-plotly-plot .main-svg text:not(.heatmaplayer text) { fill: var(--body-text-color) !important; }
.dark .js-plotly-plot .main-svg text { text-shadow: none !important; }
.dark .js-plotly-plot .legend .bg { fill: transparent !important; }
@media (max-width: 640px) { .js-plotly-plot .modebar-container { display: none !important; } }
"""


def _template(name: str = "plotly_white") -> dict:
    """`name` cut down to what these 2-D charts use, with a transparent background and grey grid.

    Plotly validates a figure's whole template on every construction: ~7 ms for plotly_white's
    3-D, polar and geo defaults, paid by each poll of a live run and each prediction.
    """
    full = pio.templates[name].to_plotly_json()
    layout_keys = ("autotypenumbers", "colorway", "font", "hovermode", "hoverlabel", "paper_bgcolor", "plot_bgcolor")
    layout_keys += ("xaxis", "yaxis", "title", "annotationdefaults", "shapedefaults", "colorscale", "coloraxis")
    layout = {k: v for k, v in full["layout"].items() if k in layout_keys}
    axis = dict(gridcolor=GRID, linecolor=GRID, zerolinecolor=GRID, automargin=True, title=dict(standoff=8))
    layout.update(paper_bgcolor=CLEAR, plot_bgcolor=CLEAR, font=dict(color=INK), xaxis=axis, yaxis=axis)
    return {"layout": layout, "data": {k: v for k, v in full["data"].items() if k in ("scatter", "bar", "heatmap")}}


TEMPLATE = _template()
LEGEND_BELOW = dict(orientation="h", yref="container", y=0, yanchor="bottom", x=0, xanchor="left", font=dict(size=12))


def layout(title: str, subtitle: str | None = None, height: int = 340) -> dict:
    """The layout every chart starts from: a left-aligned title (and subtitle) at the top, whose
    space Plotly reserves (automargin), thin margins, and the legend below the x axis."""
    heading = dict(text=title, x=0, xanchor="left", xref="container", yref="container", y=1, yanchor="top")
    heading.update(pad=dict(t=8, l=8), automargin=True, font=dict(size=15))
    if subtitle:
        heading["subtitle"] = dict(text=subtitle, font=dict(size=11))
    return dict(
        template=TEMPLATE,
        title=heading,
        height=height,
        margin=dict(l=8, r=12, t=12, b=8),
        legend=LEGEND_BELOW,
        font=dict(size=12),
        modebar=MODEBAR,
    )


def smoothing_floor(label_smoothing: float, classes: int = 10) -> float:
    """The lowest cross-entropy a model can reach against label-smoothed targets: their entropy.

    With smoothing 0.1 over 10 digits the target is 0.91 on the label and 0.01 elsewhere, entropy 0.50:
    a training loss near 0.55 is close to perfect, while validation loss (plain labels) falls to ~0.1.
    """
    eps = min(max(float(label_smoothing), 0.0), 1.0)
    if eps == 0:
        return 0.0
    top, rest = 1 - eps + eps / classes, eps / classes
    return -top * math.log(top) - (classes - 1) * rest * math.log(rest)


@dataclass
class Series:
    """One run's history: `steps` are {'step', 'epoch', 'loss'}; `epochs` are per-epoch metrics dicts.

    `label_smoothing` is the run's: its training loss cannot fall below smoothing_floor of it."""

    label: str
    steps: list[dict] = field(default_factory=list)
    epochs: list[dict] = field(default_factory=list)
    label_smoothing: float = 0.0


def _empty(fig: go.Figure, text: str) -> go.Figure:
    """Write `text` across an empty chart and hide its meaningless tick labels."""
    fig.add_annotation(text=text, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper", font=dict(size=14))
    fig.update_xaxes(type="linear", showticklabels=False, showgrid=False, zeroline=False, range=[0, 1])
    fig.update_yaxes(type="linear", showticklabels=False, showgrid=False, zeroline=False, range=[0, 1])
    return fig


def _smoothing_note(runs: Sequence[Series]) -> str | None:
    """A subtitle line saying why training loss stays high, when a run trains with label smoothing."""
    values = sorted({round(r.label_smoothing, 4) for r in runs if r.label_smoothing > 0})
    if not values:
        return None
    if len(values) == 1:
        return f"label smoothing {values[0]:g}: train loss stays above {smoothing_floor(values[0]):.2f} (dotted)"
    return "label smoothing: train loss stays above its floor (dotted)"


def _floors(fig: go.Figure, runs: Sequence[Series]) -> None:
    """A grey dotted line at the training-loss floor of each label smoothing the runs use (once per value)."""
    for value in sorted({round(r.label_smoothing, 4) for r in runs if r.label_smoothing > 0}):
        fig.add_hline(y=smoothing_floor(value), line=dict(color="#8c8c8c", dash="dot", width=1.5))


# Log-axis ticks at 1, 2, 5 of each decade: Plotly's own labels every minor digit, crowding a phone's axis.
LOG_TICKS = [m * 10.0**e for e in range(-4, 2) for m in (1, 2, 5)]


def _legend_height(entries: int) -> int:
    """Room for a legend of `entries` runs, one per row on a phone (Plotly wraps a horizontal legend)."""
    return 22 * entries


def step_loss_figure(runs: Sequence[Series], title: str = "Training loss per step") -> go.Figure:
    """Training loss against progress in epochs (so runs with different batch sizes line up), on a log axis:
    on a linear one everything after the first tenth of an epoch looks flat."""
    drawn = [(i, run) for i, run in enumerate(runs) if run.steps]
    note = _smoothing_note([run for _, run in drawn])
    fig = go.Figure(layout=layout(title, note, height=300 + _legend_height(len(drawn))))
    fig.update_xaxes(title_text="epoch", rangemode="tozero", nticks=8)
    fig.update_yaxes(title_text="loss (log scale)", type="log", tickvals=LOG_TICKS)
    for i, run in drawn:
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
        return _empty(fig, "No steps yet: start a run in the Train tab,<br>or pick past runs to compare.")
    _floors(fig, [run for _, run in drawn])
    return fig


def _epoch_figure(runs: Sequence[Series], metric: str, title: str, y_title: str, percent: bool) -> go.Figure:
    """One colour per run, train solid and validation dashed; the legend lists each run once (its two
    lines share a legend group) and the subtitle says which line is which."""
    lines = []
    for i, run in enumerate(runs):
        for split in ("train", "val"):
            points = [(e["epoch"], e[f"{split}_{metric}"]) for e in run.epochs if f"{split}_{metric}" in e]
            if points:
                lines.append((i, run, split, points))
    shown = sorted({i for i, *_ in lines})
    notes = ["solid: train · dashed: validation"]
    if metric == "loss" and (note := _smoothing_note([runs[i] for i in shown])):
        notes.append(note)
    fig = go.Figure(layout=layout(title, "<br>".join(notes), height=300 + 14 * len(notes) + _legend_height(len(shown))))
    longest = max((len(r.epochs) for r in runs), default=0)
    fig.update_xaxes(title_text="epoch", dtick=1 if longest <= 10 else None, nticks=8)
    fig.update_yaxes(title_text=y_title, tickformat=".1%" if percent else None)
    listed = set()
    for i, run, split, points in lines:
        fig.add_trace(
            go.Scatter(
                x=[x for x, _ in points],
                y=[y for _, y in points],
                mode="lines+markers",
                name=run.label if split == "train" or i not in listed else f"{run.label} · validation",
                legendgroup=run.label,
                showlegend=i not in listed,
                line=dict(color=COLORS[i % len(COLORS)], dash="solid" if split == "train" else "dash", width=2),
                marker=dict(size=6),
                hovertemplate=f"{'validation' if split == 'val' else 'train'}, epoch %{{x}}<br>{metric} "
                f"%{{y:{'.2%' if percent else '.4f'}}}<extra>{run.label}</extra>",
            )
        )
        listed.add(i)
    if not lines:
        fig.update_layout(title_subtitle_text=None)
        return _empty(fig, "No completed epoch yet.")
    if percent:
        # Zoom on the interesting part: accuracies live near 100 %, but never hide a bad run.
        lows = [min(y for _, y in points) for *_, points in lines]
        fig.update_yaxes(range=[max(0.0, min(min(lows), 0.9) - 0.02), 1.002])
    else:
        fig.update_yaxes(
            type="log", tickvals=LOG_TICKS
        )  # train and validation loss differ ~5x: both move on a log axis
        _floors(fig, [runs[i] for i in shown])
    return fig


def epoch_loss_figure(runs: Sequence[Series]) -> go.Figure:
    """Train (solid) and validation (dashed) loss per epoch, one colour per run, on a log axis."""
    return _epoch_figure(runs, "loss", "Loss per epoch", "loss (log scale)", False)


def epoch_accuracy_figure(runs: Sequence[Series]) -> go.Figure:
    """Train (solid) and validation (dashed) accuracy per epoch, one colour per run."""
    return _epoch_figure(runs, "acc", "Accuracy per epoch", "accuracy", True)


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
        layout=layout("Probability of each digit", height=300),
    )
    fig.update_xaxes(title_text="digit", type="category")
    fig.update_yaxes(title_text="probability", range=[0, 1.1], tickformat=".0%", dtick=0.25)
    if top is None:
        _empty(fig, "no digit")
    return fig


CONFUSION_HEIGHT = 380  # a phone's ~270 px square + title + axis titles; a desktop's square is as high


def confusion_figure(confusion: Sequence[Sequence[int]], title: str = "Confusion matrix (test set)") -> go.Figure:
    """Heatmap of counts, rows = true digit, columns = predicted digit, counts written in the cells.

    The counts are written at 10 px, so that a four-digit count stays inside its cell on a 390 px phone
    (ten cells of ~27 px); the square matrix is as wide as its box there, and the height (CONFUSION_HEIGHT)
    is that square plus the title and axis titles, so no empty band sits above and below it on a phone."""
    z = [list(map(int, row)) for row in confusion]
    # Colour by log-ish scale so the few mistakes are visible next to ~1000 correct per digit.
    # Empty cells are left out (None): the page shows through, light or dark, instead of a white grid.
    shade = [[(c**0.35) if c else None for c in row] for row in z]
    peak = max((max(v or 0 for v in row) for row in shade), default=1) or 1
    fig = go.Figure(
        go.Heatmap(
            z=shade,
            x=DIGITS,
            y=DIGITS,
            customdata=z,
            text=[[str(c) if c else "" for c in row] for row in z],
            texttemplate="%{text}",
            textfont=dict(size=10),
            colorscale="Blues",
            zmin=0,
            zmax=peak,
            showscale=False,
            hovertemplate="true %{y}, predicted %{x}: %{customdata}<extra></extra>",
            xgap=1,
            ygap=1,
        ),
        layout=layout(title, height=CONFUSION_HEIGHT),
    )
    fig.update_xaxes(title_text="predicted digit", type="category", side="bottom", constrain="domain", showgrid=False)
    fig.update_yaxes(
        title_text="true digit", type="category", autorange="reversed", scaleanchor="x", constrain="domain"
    )
    fig.update_yaxes(constraintoward="top")  # what room is left goes below the matrix, not between it and the title
    fig.update_yaxes(showgrid=False)
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
