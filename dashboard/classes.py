"""Tables of runs with any number of classes, as the dashboard shows them (pure numpy and
pandas, no Streamlit).

The numbers come from the pipeline (`pipeline.evaluation.analysis`, `.compare`,
`pipeline.store.predictions`); here they only become tables, bars and sentences. A two-class
run (its `p_dog` column) and an N-class one (`p:<class>` columns) give the same shapes.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from dashboard.settings import label
from pipeline.store.predictions import confidence_of

TOP_K = 5


def pairs_table(pairs: list[dict], names: list[str]) -> pd.DataFrame:
    """One row per confused pair: true class, predicted class, each model's count, total."""
    rows = [
        {
            "true class": r["true"],
            "predicted as": r["predicted"],
            **{label(n): int(r["counts"].get(n, 0)) for n in names},
            "total": int(r["total"]),
        }
        for r in pairs
    ]
    return pd.DataFrame(rows, columns=["true class", "predicted as", *map(label, names), "total"])


def class_counts(dataset: dict) -> pd.DataFrame:
    """Photos per class in the training and validation splits (the manifest's counts)."""
    counts, classes = dataset["counts"], dataset["class_names"]
    return pd.DataFrame(
        {
            "class": classes,
            "train": [int(counts["train"].get(c, 0)) for c in classes],
            "validation": [int(counts["val"].get(c, 0)) for c in classes],
        }
    )


def per_class_table(
    per_model: dict[str, dict[str, float | None]], classes: list[str]
) -> pd.DataFrame:
    """Rows the classes, a column per model label: each model's accuracy on that class (as
    `pipeline.evaluation.analysis.per_class_accuracy` gives it)."""
    table = pd.DataFrame({"class": classes})
    for name, by_class in per_model.items():
        table[label(name)] = [by_class.get(c) for c in classes]
    return table


def cell_photos(
    predictions: dict[str, pd.DataFrame], classes: list[str], true: int, predicted: int
) -> pd.DataFrame:
    """The photos of one confusion cell for every model: path, model, P(predicted class)."""
    parts = []
    for name, frame in predictions.items():
        hit = (frame.label.to_numpy(int) == true) & (frame.predicted.to_numpy(int) == predicted)
        confidence = confidence_of(frame, classes)[hit]
        parts.append(
            pd.DataFrame({"path": frame.path[hit], "model": label(name), "confidence": confidence})
        )
    if not parts:
        return pd.DataFrame(columns=["path", "model", "confidence"])
    return pd.concat(parts).sort_values(["confidence", "path"], ascending=[False, True])


def changes_table(changed: pd.DataFrame, classes: list[str]) -> pd.DataFrame:
    """`pipeline.evaluation.compare.fixed_and_broken` of an N-class run as shown: the label
    and each run's answer by class name, and each run's probability of the true class."""
    changed = changed.reset_index(drop=True)
    return pd.DataFrame(
        {
            "path": changed.path,
            "label": [classes[int(v)] for v in changed.label],
            "change": changed.change,
            "A says": [classes[int(v)] for v in changed.predicted_a],
            "A: P(true class)": changed.p_true_a,
            "B says": [classes[int(v)] for v in changed.predicted_b],
            "B: P(true class)": changed.p_true_b,
        }
    )


def top_k(probabilities: np.ndarray, classes: list[str], k: int = TOP_K) -> list[tuple]:
    """The `k` (at most N) most probable classes of one answer: [(class, probability)]."""
    p = np.asarray(probabilities, float)
    order = np.argsort(-p, kind="stable")[: min(k, len(classes))]
    return [(classes[i], float(p[i])) for i in order]


def vote(predicted: list[str]) -> str:
    """'3 of 4 models say bird — they disagree', or the tie between the most voted classes."""
    counts = Counter(predicted).most_common()
    n, best = len(predicted), counts[0][1]
    tied = [c for c, k in counts if k == best]
    if len(tied) > 1:
        return f"**A tie: {best} of {n} models each say " + " and ".join(tied) + "**"
    how = " — unanimous" if best == n else " — they disagree"
    return f"**{best} of {n} models say {tied[0]}**{how}"


def abstaining(frame: pd.DataFrame, classes: list[str], threshold: float) -> dict:
    """A model that answers only at confidence >= `threshold`: the share it answers, its
    accuracy on those, and on all photos."""
    keep = confidence_of(frame, classes) >= threshold
    right = frame.predicted.to_numpy(int) == frame.label.to_numpy(int)
    return {
        "answered": float(keep.mean()) if len(keep) else 0.0,
        "accuracy on answered": float(right[keep].mean()) if keep.any() else None,
        "accuracy on all": float(right.mean()) if len(right) else None,
        "abstained": int((~keep).sum()),
    }
