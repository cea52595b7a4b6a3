"""Plotly figures built from artifact tables (pure: data in, figure out)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard.settings import label, p_of
from pipeline.registry import spec


def color(name: str) -> str:
    return spec(name).color


def _add_curves(
    fig,
    frame: pd.DataFrame,
    metric: str,
    title: str,
    line_color: str,
    group: str,
    val_suffix: str = "validation",
    row=None,
    col=None,
) -> None:
    """Train (dotted) and validation (solid) curves of one model in one run."""
    where = {"row": row, "col": col} if row else {}
    for column, dash, suffix in ((metric, "dot", "train"), (f"val_{metric}", "solid", val_suffix)):
        fig.add_trace(
            go.Scatter(
                x=frame.epoch,
                y=frame[column],
                mode="lines+markers",
                name=f"{title} {suffix}",
                line={"color": line_color, "dash": dash},
                legendgroup=group,
                hovertemplate=f"{title} {suffix}<br>epoch %{{x}}<br>{metric} %{{y:.4f}}",
            ),
            **where,
        )


def _add_model_curves(fig, name: str, frame: pd.DataFrame, metric: str, row=None, col=None):
    _add_curves(
        fig,
        frame,
        metric,
        title=label(name),
        line_color=color(name),
        group=name,
        row=row,
        col=col,
    )


def learning_curves(histories: dict[str, pd.DataFrame], metric: str, layout: str) -> go.Figure:
    """Train (dotted) and validation (solid) curves; the fine-tuning phase is shaded."""
    names = list(histories)
    histories = dict(histories)
    for name in names:
        base = spec(name).needs
        if layout == "overlay" and base in histories:
            # Its first epochs are the base model's; overlaid, draw only the continuation.
            frame = histories[name]
            histories[name] = frame[frame.epoch >= histories[base].epoch.max()]
    if layout == "panels":
        fig = make_subplots(
            rows=1,
            cols=max(1, len(names)),
            shared_yaxes=True,
            subplot_titles=[label(n) for n in names],
        )
        for i, name in enumerate(names, start=1):
            _add_model_curves(fig, name, histories[name], metric=metric, row=1, col=i)
    else:
        fig = go.Figure()
        for name in names:
            _add_model_curves(fig, name, histories[name], metric=metric)
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


def repeat_band(histories: list[pd.DataFrame], column: str) -> pd.DataFrame:
    """Per epoch over a group's repeats: the mean of `column`, its lowest and highest."""
    stacked = pd.concat([h[["epoch", column]] for h in histories if column in h])
    return (
        stacked.groupby("epoch")[column]
        .agg(mean="mean", low="min", high="max", repeats="count")
        .reset_index()
    )


def repeat_curves(histories: dict[str, list[pd.DataFrame]], metric: str) -> go.Figure:
    """Each model's validation curve as the mean over the repeats, in a band from the lowest
    to the highest repeat at each epoch."""
    fig = go.Figure()
    for name, frames in histories.items():
        band = repeat_band(frames, f"val_{metric}")
        tint = color(name)
        fig.add_trace(
            go.Scatter(
                x=list(band.epoch) + list(band.epoch[::-1]),
                y=list(band.high) + list(band.low[::-1]),
                fill="toself",
                fillcolor=tint,
                opacity=0.18,
                line={"width": 0},
                hoverinfo="skip",
                showlegend=False,
            )
        )
        fig.add_trace(
            go.Scatter(
                x=band.epoch,
                y=band["mean"],
                mode="lines+markers",
                line={"color": tint},
                name=f"{label(name)} (mean of {len(frames)})",
                customdata=band[["low", "high"]].to_numpy(),
                hovertemplate="epoch %{x}: mean %{y:.4f}, repeats %{customdata[0]:.4f}"
                " to %{customdata[1]:.4f}<extra></extra>",
            )
        )
    fig.update_layout(
        height=450,
        xaxis_title="epoch",
        yaxis_title=f"validation {metric}",
        legend={"orientation": "h", "y": -0.2},
        margin={"t": 40},
    )
    return fig


RUN_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")


def run_curves(histories: dict[str, pd.DataFrame], metric: str) -> go.Figure:
    """One model's curves in several runs: train dotted, validation solid, a colour per run."""
    fig = go.Figure()
    for (run_label, frame), run_color in zip(histories.items(), RUN_COLORS, strict=False):
        _add_curves(
            fig,
            frame,
            metric,
            title=run_label,
            line_color=run_color,
            group=run_label,
            val_suffix="val",
        )
    fig.update_layout(xaxis_title="epoch", yaxis_title=metric, height=380, margin={"t": 30})
    return fig


def sweep_coordinates(table: pd.DataFrame, settings: list[str], metric: str) -> go.Figure:
    """Parallel coordinates: each run a line through its settings and its accuracy."""
    dimensions = [
        {"label": key, "values": pd.to_numeric(table[key], errors="coerce")} for key in settings
    ]
    dimensions.append({"label": metric, "values": table[metric], "tickformat": ".1%"})
    fig = go.Figure(
        go.Parcoords(
            line={"color": table[metric], "colorscale": "Viridis", "showscale": True},
            dimensions=dimensions,
        )
    )
    fig.update_layout(height=380, margin={"t": 40, "l": 60, "r": 40})
    return fig


CELL_TEXT_LIMIT = 20  # more classes than this: cell numbers on hover only


def _cell_markers(
    class_names: list[str], counts: np.ndarray, shares: np.ndarray, *, hover: str, height: int
) -> go.Scatter:
    """One invisible square marker on each cell of an N x N heatmap, to click and hover."""
    n = len(class_names)
    grid = [(t, p) for t in range(n) for p in range(n)]
    return go.Scatter(
        x=[class_names[p] for _, p in grid],
        y=[class_names[t] for t, _ in grid],
        mode="markers",
        marker={"symbol": "square", "size": max(4, (height - 160) / n), "opacity": 0},
        customdata=[[counts[t, p], shares[t, p]] for t, p in grid],
        hovertemplate=hover,
        name="cells",
    )


def clicked_cell(selection: dict | None, class_names: list[str]) -> tuple[int, int] | None:
    """(true, predicted) class indices of the cell a click selected on a confusion heatmap."""
    points = (selection or {}).get("points") or []
    for point in points:
        true, predicted = point.get("y"), point.get("x")
        if true in class_names and predicted in class_names:
            return class_names.index(true), class_names.index(predicted)
    return None


def confusion_heatmap(
    matrix: list[list[int]], class_names: list[str], normalized: bool, title: str
) -> go.Figure:
    """Counts (or shares of each true class) with rows the true class; two classes keep the
    'pred X' / 'true X' labels, more get axis titles and hover-only numbers past 20.

    More than two classes add a layer of invisible markers, one per cell, carrying the
    hover text: Plotly selects points, not heatmap cells, so a click on a cell selects its
    marker (`clicked_cell`)."""
    counts = np.asarray(matrix, dtype=float)
    rows = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, rows, out=np.zeros_like(counts), where=rows > 0)
    z = shares if normalized else counts
    n = len(class_names)
    text = [
        [f"{shares[i, j]:.1%}" if normalized else f"{int(counts[i, j]):,}" for j in range(n)]
        for i in range(n)
    ]
    two = n == 2
    hover = (
        "%{y}, %{x}" if two else "true %{y}, predicted %{x}"
    ) + "<br>count %{customdata[0]:,.0f}<br>share of true class %{customdata[1]:.2%}<extra></extra>"
    height = 320 if two else min(900, 160 + 22 * n)
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[f"pred {c}" for c in class_names] if two else list(class_names),
            y=[f"true {c}" for c in class_names] if two else list(class_names),
            text=text,
            texttemplate="%{text}" if n <= CELL_TEXT_LIMIT else None,
            colorscale="Blues",
            showscale=False,
            customdata=np.dstack([counts, shares]),
            hovertemplate=hover,
            hoverinfo="skip" if not two else None,
        )
    )
    if not two:
        fig.add_trace(_cell_markers(class_names, counts, shares, hover=hover, height=height))
    fig.update_layout(
        title=title,
        height=height,
        margin={"t": 50, "b": 10},
        yaxis={"autorange": "reversed"},
        showlegend=False,
    )
    if not two:
        small = n > CELL_TEXT_LIMIT
        # Fixed ranges: the markers would otherwise pad the axes past the cells' edges.
        fig.update_xaxes(
            title="predicted", type="category", showticklabels=not small, range=[-0.5, n - 0.5]
        )
        fig.update_yaxes(
            title="true",
            type="category",
            showticklabels=not small,
            range=[n - 0.5, -0.5],
            autorange=False,
        )
    return fig


def accuracy_intervals(per_model: dict[str, dict]) -> go.Figure:
    """Each model's validation accuracy with its 95% Wilson interval."""
    names = list(per_model)
    acc = [per_model[n]["accuracy"] for n in names]
    low = [per_model[n]["accuracy_ci95"][0] for n in names]
    high = [per_model[n]["accuracy_ci95"][1] for n in names]
    fig = go.Figure(
        go.Scatter(
            x=[a * 100 for a in acc],
            y=[label(n) for n in names],
            mode="markers",
            marker={"size": 12, "color": [color(n) for n in names]},
            error_x={
                "type": "data",
                "symmetric": False,
                "array": [(h - a) * 100 for h, a in zip(high, acc, strict=True)],
                "arrayminus": [(a - lo) * 100 for a, lo in zip(acc, low, strict=True)],
            },
            hovertemplate="%{y}: %{x:.2f}%<extra></extra>",
        )
    )
    fig.update_layout(
        height=260,
        xaxis_title="validation accuracy (%) with 95% interval",
        yaxis={"autorange": "reversed"},
        margin={"t": 20},
    )
    return fig


def repeat_strips(models: dict[str, dict]) -> go.Figure:
    """Each model's accuracy in every repeat (dots), and the mean with its 95% interval over
    seeds and photos (a bar), one row per model."""
    fig = go.Figure()
    for name, s in models.items():
        row = label(name)
        fig.add_trace(
            go.Scatter(
                x=[100 * a for a in s["per_repeat"]],
                y=[row] * len(s["per_repeat"]),
                mode="markers",
                marker={"size": 9, "color": color(name), "opacity": 0.55, "symbol": "circle"},
                name=row,
                customdata=list(range(len(s["per_repeat"]))),
                hovertemplate=row + ", repeat %{customdata}: %{x:.2f}%<extra></extra>",
                showlegend=False,
            )
        )
        if s.get("low") is not None:
            fig.add_trace(
                go.Scatter(
                    x=[100 * s["mean"]],
                    y=[row],
                    mode="markers",
                    marker={"size": 16, "color": color(name), "symbol": "line-ns-open"},
                    error_x={
                        "type": "data",
                        "symmetric": False,
                        "array": [100 * (s["high"] - s["mean"])],
                        "arrayminus": [100 * (s["mean"] - s["low"])],
                    },
                    hovertemplate=row + ": mean %{x:.2f}%<extra></extra>",
                    showlegend=False,
                )
            )
    fig.update_layout(
        height=120 + 45 * len(models),
        xaxis_title="validation accuracy (%): each repeat, and the mean with its 95% interval",
        yaxis={"autorange": "reversed", "type": "category"},
        margin={"t": 20},
    )
    return fig


def agreement_heatmap(agreement: dict) -> go.Figure:
    names = [label(n) for n in agreement["names"]]
    z = np.asarray(agreement["matrix"]) * 100
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=names,
            y=names,
            text=[[f"{v:.1f}%" for v in row] for row in z],
            texttemplate="%{text}",
            colorscale="Greens",
            showscale=False,
            hovertemplate="%{y} and %{x} agree on %{z:.2f}% of photos<extra></extra>",
        )
    )
    fig.update_layout(height=360, margin={"t": 20}, yaxis={"autorange": "reversed"})
    return fig


def _diagonal(name: str) -> go.Scatter:
    return go.Scatter(
        x=[0, 1], y=[0, 1], mode="lines", name=name, line={"dash": "dot", "color": "grey"}
    )


def ranking_curves(
    curves: dict[str, dict], kind: str, positive: str, zoom: bool = False
) -> go.Figure:
    """ROC (kind 'roc') or precision-recall ('pr') curves of every model, overlaid;
    `positive`: the positive class's name; `zoom` shows only the corner where strong models
    differ."""
    fig = go.Figure()
    for name, c in curves.items():
        if kind == "roc":
            x, y = c["roc"]["fpr"], c["roc"]["tpr"]
            thresholds, summary = c["roc"]["threshold"], f"AUC {c['roc_auc']:.4f}"
        else:
            x, y = c["pr"]["recall"], c["pr"]["precision"]
            thresholds, summary = c["pr"]["threshold"], f"AP {c['average_precision']:.4f}"
        fig.add_trace(
            go.Scatter(
                x=x,
                y=y,
                mode="lines",
                name=f"{label(name)} ({summary})",
                line={"color": color(name)},
                customdata=thresholds,
                hovertemplate="x %{x:.3f}, y %{y:.3f}<br>threshold %{customdata:.3f}",
            )
        )
    if kind == "roc":
        fig.add_trace(_diagonal("chance"))
    fig.update_layout(
        height=420,
        xaxis_title="false positive rate" if kind == "roc" else f"recall ({positive})",
        yaxis_title="true positive rate" if kind == "roc" else f"precision ({positive})",
        legend={"orientation": "h", "y": -0.25},
        margin={"t": 20},
    )
    if zoom:
        fig.update_xaxes(range=[0, 0.1] if kind == "roc" else [0.9, 1.0])
        fig.update_yaxes(range=[0.9, 1.0])
    return fig


def _bin_style(name: str, report: dict, bins: list[dict]) -> dict:
    """A reliability trace's colour, markers sized by each bin's photos, and hover data."""
    return {
        "line": {"color": color(name)},
        "marker": {"size": [6 + 14 * np.sqrt(b["count"] / max(1, _n(report))) for b in bins]},
        "customdata": [[b["count"], b["low"], b["high"]] for b in bins],
    }


def _reliability_layout(fig: go.Figure, *, x_title: str, y_title: str) -> go.Figure:
    fig.update_layout(
        height=460,
        xaxis_title=x_title,
        yaxis_title=y_title,
        legend={"orientation": "h", "y": -0.2},
        margin={"t": 20},
    )
    return fig


def reliability_diagram(reports: dict[str, dict], which: str, positive: str) -> go.Figure:
    """Observed share of the `positive` class against its mean predicted probability, per bin;
    the diagonal is perfect."""
    p = p_of(positive)
    fig = go.Figure(_diagonal("perfectly calibrated"))
    for name, report in reports.items():
        bins = [b for b in report[which]["bins"] if b["count"]]
        fig.add_trace(
            go.Scatter(
                x=[b["mean_p"] for b in bins],
                y=[b["positive_rate"] for b in bins],
                mode="lines+markers",
                name=f"{label(name)} ({p} ECE {report[which]['ece_positive']:.2%})",
                **_bin_style(name, report, bins),
                hovertemplate=f"{p} %{{customdata[1]:.1f}}–%{{customdata[2]:.1f}}: "
                "%{customdata[0]} photos<br>mean prediction %{x:.3f}<br>"
                f"share {positive} %{{y:.3f}}<extra></extra>",
            )
        )
    return _reliability_layout(
        fig,
        x_title=f"mean predicted {p} in the bin",
        y_title=f"share of photos that are {positive}",
    )


def _n(report: dict) -> int:
    return sum(b["count"] for b in report["before"]["bins"])


def efficiency_frontier(rows: list[dict]) -> go.Figure:
    """Accuracy against one-image latency; marker area is the model file size."""
    timed = [r for r in rows if r.get("latency_ms") is not None]
    fig = go.Figure()
    frontier = sorted((r for r in timed if r.get("on_frontier")), key=lambda r: r["latency_ms"])
    if len(frontier) > 1:
        fig.add_trace(
            go.Scatter(
                x=[r["latency_ms"] for r in frontier],
                y=[r["accuracy"] * 100 for r in frontier],
                mode="lines",
                name="frontier",
                line={"dash": "dot", "color": "grey"},
            )
        )
    biggest = max((r["size_mb"] for r in timed), default=1) or 1
    for i, r in enumerate(sorted(timed, key=lambda r: r["latency_ms"])):
        fig.add_trace(
            go.Scatter(
                x=[r["latency_ms"]],
                y=[r["accuracy"] * 100],
                mode="markers+text",
                text=[label(r["name"])],
                # Alternate label sides so near-identical models stay readable.
                textposition="top center" if i % 2 == 0 else "bottom center",
                name=label(r["name"]),
                # The interquartile range of the repeated timings, when the run has them.
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "array": [r.get("latency_q3_ms", r["latency_ms"]) - r["latency_ms"]],
                    "arrayminus": [r["latency_ms"] - r.get("latency_q1_ms", r["latency_ms"])],
                    "color": color(r["name"]),
                },
                marker={
                    "size": 14 + 40 * np.sqrt(r["size_mb"] / biggest),
                    "color": color(r["name"]),
                    "opacity": 0.75,
                },
                hovertemplate=f"{label(r['name'])}<br>%{{x:.1f}} ms, %{{y:.2f}}%<br>"
                f"{r['size_mb']:.1f} MB, {r['params']:,} params<extra></extra>",
            )
        )
    fig.update_layout(
        height=440,
        xaxis_title="latency of one image (ms, median and interquartile range)",
        yaxis_title="validation accuracy (%)",
        showlegend=False,
        margin={"t": 30},
    )
    return fig


def robustness_curves(result: dict, corruption: str) -> go.Figure:
    """Each model's accuracy against the severity of one corruption, with 95% intervals."""
    spec = next(c for c in result["corruptions"] if c["name"] == corruption)
    ticks = ["clean"] + [f"{level:g} {spec['unit']}".strip() for level in spec["levels"]]
    fig = go.Figure()
    for name, summary in result["models"].items():
        rows = {(r["corruption"], r["severity"]): r for r in summary["rows"]}
        points = [rows[("clean", 0)]] + [
            rows[(corruption, s)] for s in range(1, len(spec["levels"]) + 1)
        ]
        fig.add_trace(
            go.Scatter(
                x=ticks,
                y=[r["accuracy"] * 100 for r in points],
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": [(r["high"] - r["accuracy"]) * 100 for r in points],
                    "arrayminus": [(r["accuracy"] - r["low"]) * 100 for r in points],
                },
                mode="lines+markers",
                name=label(name),
                line={"color": color(name)},
            )
        )
    fig.update_layout(
        height=400,
        xaxis_title=f"{spec['label']} (severity)",
        yaxis_title=f"accuracy on {len(result['photos'])} validation photos (%)",
        legend={"orientation": "h", "y": -0.25},
        margin={"t": 20},
    )
    return fig


def selective_accuracy(selective: dict[str, dict]) -> go.Figure:
    """Accuracy on the photos a model keeps against the share it keeps, when it abstains
    below a confidence: one line per model."""
    fig = go.Figure()
    for name, curve in selective.items():
        fig.add_trace(
            go.Scatter(
                x=curve["coverage"],
                y=curve["accuracy"],
                mode="lines",
                name=label(name),
                line={"color": color(name)},
                customdata=curve["confidence"],
                hovertemplate="keeps %{x:.1%} of photos<br>accuracy %{y:.2%}<br>"
                "confidence ≥ %{customdata:.3f}<extra></extra>",
            )
        )
    fig.update_layout(
        height=420,
        xaxis_title="coverage: share of photos answered",
        yaxis_title="accuracy on the answered photos",
        xaxis={"tickformat": ".0%", "autorange": "reversed"},
        yaxis={"tickformat": ".0%"},
        legend={"orientation": "h", "y": -0.25},
        margin={"t": 20},
    )
    return fig


def top_k_bars(answers: dict[str, list[tuple[str, float]]]) -> go.Figure:
    """Each model's most probable classes as horizontal bars, a panel per model."""
    names = list(answers)
    fig = make_subplots(rows=1, cols=max(1, len(names)), subplot_titles=[label(n) for n in names])
    for i, name in enumerate(names, start=1):
        classes = [c for c, _ in answers[name]]
        fig.add_trace(
            go.Bar(
                x=[p for _, p in answers[name]],
                y=classes,
                orientation="h",
                name=label(name),
                marker={"color": color(name)},
                hovertemplate="%{y}: %{x:.3f}<extra></extra>",
            ),
            row=1,
            col=i,
        )
        fig.update_yaxes(autorange="reversed", type="category", row=1, col=i)
        fig.update_xaxes(range=[0, 1], tickformat=".0%", row=1, col=i)
    fig.update_layout(height=80 + 34 * max(len(a) for a in answers.values()), showlegend=False)
    fig.update_layout(margin={"t": 40, "b": 10})
    return fig


def top_label_reliability(reports: dict[str, dict], which: str) -> go.Figure:
    """Accuracy against mean confidence in the predicted class, per confidence bin."""
    fig = go.Figure(_diagonal("perfectly calibrated"))
    for name, report in reports.items():
        bins = [b for b in report[which]["bins"] if b["count"]]
        fig.add_trace(
            go.Scatter(
                x=[b["mean_p"] for b in bins],
                y=[b.get("accuracy", b.get("positive_rate")) for b in bins],
                mode="lines+markers",
                name=f"{label(name)} (ECE {report[which]['ece']:.2%})",
                **_bin_style(name, report, bins),
                hovertemplate="confidence %{customdata[1]:.2f}–%{customdata[2]:.2f}: "
                "%{customdata[0]} photos<br>mean confidence %{x:.3f}<br>"
                "accuracy %{y:.3f}<extra></extra>",
            )
        )
    return _reliability_layout(
        fig,
        x_title="mean confidence in the predicted class, in the bin",
        y_title="share of the bin's photos predicted right",
    )


MAP_SYMBOLS = {"train": "circle", "val": "diamond"}
RIGHT_WRONG = {1.0: ("right", "#2ca02c"), 0.0: ("wrong", "#d62728")}


def _map_groups(table: pd.DataFrame, colour_by: str, model: str | None):
    """(name, rows, colour) of each legend entry of the map."""
    if colour_by == "class":
        palette = px_palette(table["class"].nunique())
        for i, name in enumerate(sorted(table["class"].unique(), key=list(table["class"]).index)):
            yield name, table["class"] == name, palette[i]
        return
    if colour_by == "a model's answer":
        column = table[f"right_{model}"]
        for value, (name, colour) in RIGHT_WRONG.items():
            yield f"{label(model)} {name}", column == value, colour
        yield "training photo", column.isna(), "#c7c7c7"
        return
    shades = ["#c7c7c7", "#9ecae1", "#fd8d3c", "#d62728", "#67000d"]
    for count in sorted(table["answers"].unique()):
        name = "training photo" if count == 0 else f"{count} different answer(s)"
        yield name, table["answers"] == count, shades[min(int(count), len(shades) - 1)]


def px_palette(n: int) -> list[str]:
    """`n` distinct colours (Plotly's qualitative sets, repeated past 24)."""
    import plotly.colors as pc

    colours = pc.qualitative.Plotly + pc.qualitative.Dark24
    return [colours[i % len(colours)] for i in range(n)]


def photo_map(
    table: pd.DataFrame, hover: list[str], *, colour_by: str, model: str | None = None
) -> go.Figure:
    """Every photo at its map position (WebGL), coloured by `colour_by`, training photos as
    circles and validation photos as diamonds. Each point carries its row in `table` as
    customdata, for the selection."""
    fig = go.Figure()
    hover = np.asarray(hover, dtype=object)
    for name, rows, colour in _map_groups(table, colour_by, model):
        rows = np.asarray(rows, bool)
        if not rows.any():
            continue
        part = table[rows]
        fig.add_trace(
            go.Scattergl(
                x=part["x"],
                y=part["y"],
                mode="markers",
                name=name,
                marker={
                    "color": colour,
                    "size": 5,
                    "opacity": 0.75,
                    "symbol": [MAP_SYMBOLS.get(s, "circle") for s in part["split"]],
                },
                customdata=np.flatnonzero(rows).tolist(),  # a plain list: each point gets its int
                hovertext=hover[rows],
                hoverinfo="text",
            )
        )
    fig.update_layout(
        height=640,
        dragmode="select",  # a box; the lasso is one click away in the toolbar
        xaxis={"visible": False},
        yaxis={"visible": False, "scaleanchor": "x"},
        legend={"itemsizing": "constant"},
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
    )
    return fig
