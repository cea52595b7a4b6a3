"""The map page's table: every photo's map position with each model's answer (pure pandas,
testable without Streamlit)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dashboard.settings import label

COLOUR_BY = ("class", "a model's answer", "the models' disagreement")


def map_table(
    points: pd.DataFrame, predictions: dict[str, pd.DataFrame], class_names: list[str]
) -> pd.DataFrame:
    """`points` (path, split, label, x, y) with the class name, each model's answer and
    whether it is right (validation photos; empty for training photos), and `answers`, the
    number of different answers the models give (0 for training photos)."""
    table = points.copy()
    table["class"] = [class_names[i] for i in table["label"]]
    answered = []
    for name, frame in predictions.items():
        said = frame.set_index("path")["predicted"]
        predicted = table["path"].map(said)
        table[f"answer_{name}"] = [
            class_names[int(p)] if not pd.isna(p) else "" for p in predicted.to_numpy()
        ]
        table[f"right_{name}"] = np.where(
            predicted.isna(), np.nan, (predicted == table["label"]).astype(float)
        )
        answered.append(f"answer_{name}")
    if answered:
        answers = table[answered].replace("", np.nan)
        table["answers"] = answers.nunique(axis=1).astype(int)
    else:
        table["answers"] = 0
    return table


def hover_lines(table: pd.DataFrame, names: list[str]) -> list[str]:
    """One hover text per photo: its path, label and every model's answer."""
    answers = [(label(n), table[f"answer_{n}"].tolist()) for n in names]
    lines = []
    for i, (path, side, name) in enumerate(
        zip(table.path, table.split, table["class"], strict=True)
    ):
        text = f"{path}<br>{side}, labelled {name}"
        for model, said in answers:
            if said[i]:
                text += f"<br>{model}: {said[i]}"
        lines.append(text)
    return lines


def selected_paths(selection: dict | None, table: pd.DataFrame) -> list[str]:
    """The photos a box or lasso selection on the map picked (by their row, carried in
    each point's customdata), in map order."""
    rows = set()
    for point in (selection or {}).get("points") or []:
        data = point.get("customdata")
        row = data[0] if isinstance(data, list | tuple) and data else data
        if isinstance(row, int | float):
            rows.add(int(row))
    return [table["path"].iloc[r] for r in sorted(rows) if 0 <= r < len(table)]
