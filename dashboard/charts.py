"""Plotly figures built from artifact tables (pure: data in, figure out)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard.settings import label

COLORS = {
    "cnn3": "#1f77b4",
    "cnn4": "#ff7f0e",
    "mobilenetv2_frozen": "#2ca02c",
    "mobilenetv2_finetuned": "#d62728",
}


def _add_curves(fig, name: str, frame: pd.DataFrame, metric: str, row=None, col=None) -> None:
    color = COLORS.get(name)
    where = {"row": row, "col": col} if row else {}
    for column, dash, suffix in (
        (metric, "dot", "train"),
        (f"val_{metric}", "solid", "validation"),
    ):
        fig.add_trace(
            go.Scatter(
                x=frame.epoch,
                y=frame[column],
                mode="lines+markers",
                name=f"{label(name)} {suffix}",
                line={"color": color, "dash": dash},
                legendgroup=name,
                hovertemplate=f"{label(name)} {suffix}<br>epoch %{{x}}<br>{metric} %{{y:.4f}}",
            ),
            **where,
        )


def learning_curves(histories: dict[str, pd.DataFrame], metric: str, layout: str) -> go.Figure:
    """Train (dotted) and validation (solid) curves; the fine-tuning phase is shaded."""
    names = list(histories)
    histories = dict(histories)
    tuned = histories.get("mobilenetv2_finetuned")
    if layout == "overlay" and tuned is not None and "mobilenetv2_frozen" in histories:
        # Its epochs 1-10 are the frozen model's; overlaid, draw only the continuation.
        frozen_last = histories["mobilenetv2_frozen"].epoch.max()
        histories["mobilenetv2_finetuned"] = tuned[tuned.epoch >= frozen_last]
    if layout == "panels":
        fig = make_subplots(
            rows=1,
            cols=max(1, len(names)),
            shared_yaxes=True,
            subplot_titles=[label(n) for n in names],
        )
        for i, name in enumerate(names, start=1):
            _add_curves(fig, name, histories[name], metric, 1, i)
    else:
        fig = go.Figure()
        for name in names:
            _add_curves(fig, name, histories[name], metric)
    tuned = histories.get("mobilenetv2_finetuned")
    if tuned is not None and (tuned.phase == "finetune").any():
        start = tuned.loc[tuned.phase == "finetune", "epoch"].min()
        fig.add_vrect(
            x0=start - 0.5,
            x1=tuned.epoch.max() + 0.5,
            fillcolor="#d62728",
            opacity=0.08,
            line_width=0,
            annotation_text="fine-tuning",
            annotation_position="top left",
        )
    fig.update_layout(
        height=450,
        xaxis_title="epoch",
        yaxis_title=metric,
        legend={"orientation": "h", "y": -0.2},
        margin={"t": 40},
    )
    return fig


def confusion_heatmap(
    matrix: list[list[int]], class_names: list[str], normalized: bool, title: str
) -> go.Figure:
    counts = np.asarray(matrix, dtype=float)
    rows = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, rows, out=np.zeros_like(counts), where=rows > 0)
    z = shares if normalized else counts
    text = [
        [
            f"{shares[i, j]:.1%}" if normalized else f"{int(counts[i, j]):,}"
            for j in range(len(class_names))
        ]
        for i in range(len(class_names))
    ]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[f"pred {c}" for c in class_names],
            y=[f"true {c}" for c in class_names],
            text=text,
            texttemplate="%{text}",
            colorscale="Blues",
            showscale=False,
            customdata=np.dstack([counts, shares]),
            hovertemplate="%{y}, %{x}<br>count %{customdata[0]:,.0f}<br>"
            "share of true class %{customdata[1]:.2%}<extra></extra>",
        )
    )
    fig.update_layout(
        title=title, height=320, margin={"t": 50, "b": 10}, yaxis={"autorange": "reversed"}
    )
    return fig
