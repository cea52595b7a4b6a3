"""Tables of runs with any number of classes (pure numpy and pandas, no Streamlit).

Everything reads predictions through `pipeline.store.predictions`, so a two-class run (its
`p_dog` column) and an N-class one (`p:<class>` columns) give the same shapes.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from dashboard.settings import label
from pipeline.store.predictions import confidence_of, is_binary, probabilities_of

MAX_PAIRS = 20  # the most-confused pairs listed
CELL_TEXT_LIMIT = 20  # confusion matrices with more classes show numbers on hover only
TOP_K = 5


def confusion_counts(labels: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    """(N, N) counts, rows the true class, columns the predicted one."""
    matrix = np.zeros((n_classes, n_classes), int)
    np.add.at(matrix, (np.asarray(labels, int), np.asarray(predicted, int)), 1)
    return matrix


def confused_pairs(matrices: dict[str, dict], limit: int = MAX_PAIRS) -> list[dict]:
    """The off-diagonal cells summed over models, largest first, as analysis.json's
    `confused_pairs` ({true, predicted, counts: {model: n}, total}); from confusion.json."""
    totals: dict[tuple[str, str], dict[str, int]] = {}
    for name, cm in matrices.items():
        classes, matrix = cm["class_names"], np.asarray(cm["matrix"], int)
        for i, j in zip(*np.nonzero(matrix), strict=True):
            if i != j:
                totals.setdefault((classes[i], classes[j]), {})[name] = int(matrix[i, j])
    pairs = [
        {"true": t, "predicted": p, "counts": counts, "total": sum(counts.values())}
        for (t, p), counts in totals.items()
    ]
    return sorted(pairs, key=lambda r: (-r["total"], r["true"], r["predicted"]))[:limit]


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


def recall_per_class(frame: pd.DataFrame, classes: list[str]) -> dict[str, float | None]:
    """class -> share of its validation photos a model predicts as it (None without any)."""
    labels, predicted = frame.label.to_numpy(int), frame.predicted.to_numpy(int)
    result: dict[str, float | None] = {}
    for i, name in enumerate(classes):
        mask = labels == i
        result[name] = float((predicted[mask] == i).mean()) if mask.any() else None
    return result


def per_class_accuracy(per_model: dict[str, dict[str, float | None]], classes: list[str]):
    """Rows the classes, a column per model label: each model's accuracy on that class."""
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


def wide_predictions(predictions: dict[str, pd.DataFrame], classes: list[str]) -> pd.DataFrame:
    """One row per photo: path, label, and per model its predicted class (`pred_<m>`), its
    probability of that class (`p_<m>`) and whether it is wrong (`wrong_<m>`)."""
    wide = None
    for name, frame in predictions.items():
        part = pd.DataFrame(
            {
                "path": frame.path,
                "label": frame.label.astype(int),
                f"pred_{name}": frame.predicted.astype(int),
                f"p_{name}": confidence_of(frame, classes),
            }
        )
        wide = part if wide is None else wide.merge(part, on=["path", "label"], how="outer")
    if wide is None:
        return pd.DataFrame(columns=["path", "label"])
    for name in predictions:
        wide[f"wrong_{name}"] = wide[f"pred_{name}"] != wide["label"]
    return wide


def suspects(
    predictions: dict[str, pd.DataFrame], classes: list[str], judges: list[str], threshold: float
) -> pd.DataFrame:
    """Photos every judge puts in the same other class with probability >= `threshold`, as
    suspects.csv: path, label, suspected, suspected_class, p_<model>, min_confidence_other."""
    columns = ["path", "label", "suspected", "suspected_class"]
    columns += [f"p_{n}" for n in judges] + ["min_confidence_other"]
    if not judges:
        return pd.DataFrame(columns=columns)
    frames = {n: predictions[n].sort_values("path").reset_index(drop=True) for n in judges}
    first = frames[judges[0]]
    p = {n: probabilities_of(f, classes) for n, f in frames.items()}
    suspected = p[judges[0]].argmax(axis=1)
    rows = np.arange(len(first))
    same = np.ones(len(first), bool)
    for n in judges:
        same &= p[n].argmax(axis=1) == suspected
    chosen = {n: p[n][rows, suspected] for n in judges}
    floor = np.min(np.stack(list(chosen.values())), axis=0)
    keep = same & (suspected != first.label.to_numpy(int)) & (floor >= threshold)
    found = pd.DataFrame({"path": first.path, "label": first.label.astype(int)})
    found["suspected"] = suspected
    found["suspected_class"] = [classes[i] for i in suspected]
    for n in judges:
        found[f"p_{n}"] = chosen[n]
    found["min_confidence_other"] = floor
    return found[keep][columns].sort_values("min_confidence_other", ascending=False)


def fixed_and_broken(left: pd.DataFrame, right: pd.DataFrame, classes: list[str]) -> pd.DataFrame:
    """Shared photos run B (`right`) gets right and A wrong ('fixed') or the reverse ('broke'),
    with each run's predicted class and its probability."""
    both = left.assign(conf=confidence_of(left, classes)).merge(
        right.assign(conf=confidence_of(right, classes)),
        on=["path", "label"],
        suffixes=("_a", "_b"),
    )
    right_a, right_b = both.predicted_a == both.label, both.predicted_b == both.label
    both["change"] = np.where(
        right_b & ~right_a, "fixed", np.where(right_a & ~right_b, "broke", "")
    )
    changed = both[both.change != ""].sort_values(["change", "path"])
    return pd.DataFrame(
        {
            "path": changed.path,
            "label": [classes[int(v)] for v in changed.label],
            "change": changed.change,
            "A says": [classes[int(v)] for v in changed.predicted_a],
            "P(A's class)": changed.conf_a,
            "B says": [classes[int(v)] for v in changed.predicted_b],
            "P(B's class)": changed.conf_b,
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


def binary(classes: list[str]) -> bool:
    """Whether the run has two classes (and keeps every two-class view as it was)."""
    return is_binary(list(classes))


def selective(frame: pd.DataFrame, classes: list[str], max_points: int = 200) -> dict:
    """Accuracy against coverage when a model answers only at top-label confidence >= each
    threshold (analysis.json's `selective`, for runs analysed without it)."""
    confidence = confidence_of(frame, classes)
    right = frame.predicted.to_numpy(int) == frame.label.to_numpy(int)
    order = np.argsort(-confidence, kind="stable")
    kept = np.arange(1, len(order) + 1)
    accuracy = np.cumsum(right[order]) / kept
    step = max(1, len(order) // max_points)
    idx = np.unique(np.r_[np.arange(len(order) - 1, -1, -step), len(order) - 1])[::-1]
    return {
        "confidence": confidence[order][idx].tolist(),
        "coverage": (kept[idx] / len(order)).tolist(),
        "accuracy": accuracy[idx].tolist(),
    }


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
