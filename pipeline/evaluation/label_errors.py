"""Likely label errors among every photo of a run, training and validation alike.

The suspect labels of `analysis.suspects` are validation photos the trained models all
reject; the training photos, which the models learn from, are never looked at there.
Here every photo gets an out-of-fold probability: a linear softmax head on its cached
pooled MobileNetV2 features (the frozen model's head, fitted by scikit-learn), trained on
the other folds, so no photo is scored by a head that saw its label. Confident learning
(cleanlab's `find_label_issues`, Northcutt et al. 2021) then picks the photos whose label
the out-of-fold probabilities contradict, ranked by the probability of their own label.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from pipeline.store import artifacts

FOLDS = 5
# L2 strength of the head (inverse); 0.05 scored 98.1% out of fold on the full PetImages set.
REGULARISATION = 0.05
MAX_ITER = 300
COLUMNS = [
    "path",
    "split",
    "label",
    "suggested",
    "p_label",
    "p_suggested",
    "rank",
]


def folds_for(labels: np.ndarray, folds: int = FOLDS) -> int:
    """The folds the smallest class allows (each fold needs one photo of every class);
    0 when a class has fewer than two photos."""
    counts = np.bincount(labels)
    smallest = int(counts[counts > 0].min()) if len(counts) else 0
    return min(folds, smallest) if smallest >= 2 and (counts > 0).sum() >= 2 else 0


def out_of_fold(
    features: np.ndarray, labels: np.ndarray, *, num_classes: int, folds: int, seed: int
) -> np.ndarray:
    """(n, num_classes) probabilities, each row from a head fitted without that photo."""
    probabilities = np.zeros((len(labels), num_classes))
    splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    for fit_rows, score_rows in splitter.split(features, labels):
        head = make_pipeline(
            StandardScaler(), LogisticRegression(C=REGULARISATION, max_iter=MAX_ITER)
        )
        head.fit(features[fit_rows], labels[fit_rows])
        probabilities[np.ix_(score_rows, head.classes_)] = head.predict_proba(features[score_rows])
    return probabilities


def ranked_issues(labels: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """Row numbers of the likely label errors, the least likely label first."""
    from cleanlab.filter import find_label_issues  # imported by the analysis only

    return np.asarray(
        find_label_issues(labels, probabilities, return_indices_ranked_by="self_confidence"),
        dtype=np.int64,
    )


def issues_table(
    split: pd.DataFrame, probabilities: np.ndarray, ranked: np.ndarray
) -> pd.DataFrame:
    """The ranked photos with their label, the suggested class (both class indices, as in
    split.csv) and both probabilities; `path` first, so the CSV is an exclusion file as is."""
    labels = split["label"].to_numpy().astype(int)
    suggested = probabilities.argmax(axis=1)
    rows = split.iloc[ranked]
    return pd.DataFrame(
        {
            "path": rows["path"].to_numpy(),
            "split": rows["split"].to_numpy(),
            "label": labels[ranked],
            "suggested": suggested[ranked],
            "p_label": probabilities[ranked, labels[ranked]].round(5),
            "p_suggested": probabilities[ranked, suggested[ranked]].round(5),
            "rank": np.arange(1, len(ranked) + 1),
        },
        columns=COLUMNS,
    )


def find(
    split: pd.DataFrame, features: np.ndarray, *, class_names: list[str], seed: int
) -> tuple[pd.DataFrame, dict] | None:
    """The likely label errors of every photo in `split` (its rows aligned with
    `features`) and a summary; None when a class has too few photos for two folds."""
    labels = split["label"].to_numpy().astype(int)
    folds = folds_for(labels)
    if not folds:
        return None
    probabilities = out_of_fold(
        features, labels, num_classes=len(class_names), folds=folds, seed=seed
    )
    table = issues_table(split, probabilities, ranked_issues(labels, probabilities))
    summary = {
        "method": "confident learning (cleanlab find_label_issues) on out-of-fold "
        f"probabilities of a linear head on pooled MobileNetV2 features, {folds} folds",
        "folds": folds,
        "photos": len(labels),
        "out_of_fold_accuracy": float((probabilities.argmax(axis=1) == labels).mean()),
        "count": len(table),
        "in_training": int((table["split"] == "train").sum()),
        "in_validation": int((table["split"] == "val").sum()),
    }
    return table, summary


def review(run: artifacts.Run, features: np.ndarray) -> dict | None:
    """Find the likely label errors of every photo of `run` (features aligned with its
    split) and store them: label_issues.csv and its summary, label_issues.json."""
    seed = int((run.manifest.get("config") or {}).get("seed", 0))
    found = find(run.split(), features, class_names=run.class_names, seed=seed)
    if found is None:
        return None
    table, summary = found
    artifacts.write_csv(run.path / artifacts.LABEL_ISSUES, table)
    artifacts.write_json(run.path / artifacts.LABEL_ISSUES_SUMMARY, summary)
    return summary
