"""Cross-model tables of validation mistakes (pure pandas, testable without Streamlit)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dashboard.settings import label
from pipeline.evaluation.analysis import model_probabilities, wide_predictions
from pipeline.registry import PRETRAINED, SCRATCH, in_group

__all__ = [
    "answer_probabilities",
    "class_table",
    "cross_model_mistakes",
    "photo_answers",
    "wide_predictions",
    "who_missed",
]


def who_missed(row: pd.Series, names: list[str]) -> str:
    wrong = {n for n in names if row[f"wrong_{n}"]}
    if not wrong:
        return "none"
    if wrong == set(names):
        return "missed by all"
    if wrong <= set(in_group(names, SCRATCH)):
        return "CNNs only"
    if wrong <= set(in_group(names, PRETRAINED)):
        return "MobileNetV2 only"
    return "mixed"


def cross_model_mistakes(wide: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """Photos at least one model got wrong, with who missed them."""
    if wide.empty:
        return wide.assign(missed_by=[], n_wrong=[])
    wrong_cols = [f"wrong_{n}" for n in names]
    mistakes = wide[wide[wrong_cols].any(axis=1)].copy()
    mistakes["n_wrong"] = mistakes[wrong_cols].sum(axis=1)
    mistakes["missed_by"] = mistakes.apply(who_missed, axis=1, names=names)
    return mistakes.sort_values(["n_wrong", "path"], ascending=[False, True])


def answer_probabilities(wide: pd.DataFrame, name: str, classes: list[str]) -> np.ndarray:
    """Each photo's probability, by model `name`, of the class it answered, from the
    pipeline's wide frame (`wide_predictions(predictions, classes)`)."""
    p = model_probabilities(wide, name, classes)
    return p[np.arange(len(p)), wide[f"pred_{name}"].to_numpy(int)]


def class_table(view: pd.DataFrame, names: list[str], classes: list[str]) -> pd.DataFrame:
    """The cross-model mistakes of an N-class run as shown: each model's answer by class name
    and its probability of that class."""
    table = view[["path", "label", "missed_by"]].copy()
    for n in names:
        table[f"{label(n)} says"] = [classes[int(v)] for v in view[f"pred_{n}"]]
        table[f"{label(n)} P(its answer)"] = answer_probabilities(view, n, classes)
    return table


def photo_answers(picked: pd.DataFrame, names: list[str], classes: list[str]) -> pd.DataFrame:
    """One photo's answer from each model (`picked`: its row of the wide frame): its class,
    its probability, whether it is right."""
    row = picked.iloc[0]
    return pd.DataFrame(
        {
            "model": [label(n) for n in names],
            "verdict": [classes[int(row[f"pred_{n}"])] for n in names],
            "P(verdict)": [float(answer_probabilities(picked, n, classes)[0]) for n in names],
            "correct": [not row[f"wrong_{n}"] for n in names],
        }
    )


# Filters of a repeat group's mistakes by how many repeats made them.
REPEAT_FILTERS = ("any", "in every repeat (stable)", "in some repeats only (seed noise)")


def with_repeat_counts(wrong: pd.DataFrame, counts: pd.DataFrame | None) -> pd.DataFrame:
    """`wrong` (rows of path and model) with `wrong_in`: how many of the repeat group's
    runs got that photo wrong with that model (`counts`: the group's wrong table)."""
    if counts is None or wrong.empty:
        return wrong.assign(wrong_in=np.nan)
    models = [c for c in counts.columns if c not in ("path", "label")]
    long = counts.melt(id_vars=["path"], value_vars=models, var_name="model", value_name="wrong_in")
    return wrong.merge(long, on=["path", "model"], how="left")


def by_repeats(wrong: pd.DataFrame, choice: str, repeats: int) -> pd.DataFrame:
    """The mistakes of `choice` (one of REPEAT_FILTERS) in a group of `repeats` runs."""
    if choice == REPEAT_FILTERS[1]:
        return wrong[wrong.wrong_in == repeats]
    if choice == REPEAT_FILTERS[2]:
        return wrong[wrong.wrong_in < repeats]
    return wrong
