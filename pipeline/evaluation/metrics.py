"""Classification metrics as pure functions of arrays, shared by pipeline and dashboard.

Scores come as the models give them (`pipeline.modeling.predict`): a (n,) P(second class)
for two classes, an (n, N) probability matrix for more.
"""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm

from pipeline.evaluation import calibration
from pipeline.store.predictions import (
    log_probabilities,
    logits_from_probabilities,
    predicted_classes,
)


def predicted_labels(p_positive: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Class index per photo: P(second class) >= threshold, or the argmax of (n, N) rows."""
    return predicted_classes(p_positive, threshold)


def top_k(num_classes: int) -> int:
    """The k of the top-k accuracy reported: 5 past five classes, else 2."""
    return 5 if num_classes > 5 else 2


def confusion(
    labels: np.ndarray, probabilities: np.ndarray, threshold: float = 0.5
) -> list[list[int]]:
    """N x N counts (2 x 2 for two classes), rows = true class, columns = predicted class."""
    probabilities = np.asarray(probabilities)
    n = 2 if probabilities.ndim == 1 else probabilities.shape[1]
    predicted = predicted_labels(probabilities, threshold)
    return skm.confusion_matrix(labels, predicted, labels=list(range(n))).tolist()


def per_class(matrix: list[list[int]], class_names: list[str]) -> dict[str, dict[str, float]]:
    """Precision, recall and F1 of each class from a confusion matrix."""
    m = np.asarray(matrix, dtype=float)
    result = {}
    for i, name in enumerate(class_names):
        predicted, actual = m[:, i].sum(), m[i, :].sum()
        precision = float(m[i, i] / predicted) if predicted else 0.0
        recall = float(m[i, i] / actual) if actual else 0.0
        both = precision + recall
        result[name] = {
            "precision": precision,
            "recall": recall,
            "f1": 2 * precision * recall / both if both else 0.0,
            "support": int(actual),
        }
    return result


def _macro(labels: np.ndarray, pred: np.ndarray, n: int) -> dict[str, float]:
    every = list(range(n))
    kw = {"labels": every, "average": "macro", "zero_division": 0}
    return {
        "balanced_accuracy": float(skm.recall_score(labels, pred, **kw)),
        "macro_precision": float(skm.precision_score(labels, pred, **kw)),
        "macro_recall": float(skm.recall_score(labels, pred, **kw)),
        "macro_f1": float(skm.f1_score(labels, pred, **kw)),
    }


def one_vs_rest_auc(labels: np.ndarray, probabilities: np.ndarray) -> list[float]:
    """ROC AUC of each class against the rest (NaN for a class absent from `labels` or the
    only one present)."""
    aucs = []
    for i in range(probabilities.shape[1]):
        is_class = labels == i
        if is_class.all() or not is_class.any():
            aucs.append(float("nan"))
        else:
            aucs.append(float(skm.roc_auc_score(is_class, probabilities[:, i])))
    return aucs


def top_k_accuracy(labels: np.ndarray, probabilities: np.ndarray, k: int) -> float:
    """Share of photos whose true class is among the k most probable (ties broken by index)."""
    ranked = np.argsort(-np.asarray(probabilities), axis=1, kind="stable")[:, :k]
    return float((ranked == np.asarray(labels)[:, None]).any(axis=1).mean())


def classification_metrics(
    labels: np.ndarray,
    p_positive: np.ndarray,
    threshold: float = 0.5,
    logits: np.ndarray | None = None,
) -> dict[str, float]:
    """Accuracy, balanced accuracy, macro precision/recall/F1, ROC AUC and log loss.

    Two classes (`p_positive` of shape (n,)) add precision, recall and F1 of the second
    class and use `threshold`. N classes ((n, N) probabilities) add top-k accuracy and the
    one-vs-rest AUC of each class; their precision/recall/F1 are the macro averages.
    The log loss is the calibration analysis' own (`calibration.log_loss`), from `logits`
    when given (exact where P rounds to 0 or 1), else from the clipped probabilities.
    """
    labels = np.asarray(labels).astype(int)
    p = np.asarray(p_positive, dtype=float)
    if p.ndim == 2:
        return _multiclass_metrics(labels, p, logits=logits)
    pred = predicted_labels(p, threshold)
    both_classes = len(np.unique(labels)) == 2
    z = logits_from_probabilities(p) if logits is None else np.asarray(logits, float)
    return {
        "n": int(len(labels)),
        "accuracy": float(skm.accuracy_score(labels, pred)),
        "precision": float(skm.precision_score(labels, pred, zero_division=0)),
        "recall": float(skm.recall_score(labels, pred, zero_division=0)),
        "f1": float(skm.f1_score(labels, pred, zero_division=0)),
        "roc_auc": float(skm.roc_auc_score(labels, p)) if both_classes else float("nan"),
        "log_loss": calibration.log_loss(labels, z),
        "threshold": float(threshold),
        **_macro(labels, pred, 2),
    }


def _multiclass_metrics(
    labels: np.ndarray, p: np.ndarray, logits: np.ndarray | None
) -> dict[str, float]:
    n_classes = p.shape[1]
    pred = predicted_labels(p)
    z = log_probabilities(p) if logits is None else np.asarray(logits, float)
    macro = _macro(labels, pred, n_classes)
    aucs = one_vs_rest_auc(labels, p)
    present = [a for a in aucs if not np.isnan(a)]
    k = top_k(n_classes)
    return {
        "n": int(len(labels)),
        "accuracy": float(skm.accuracy_score(labels, pred)),
        "top_k": k,
        "top_k_accuracy": top_k_accuracy(labels, p, k),
        "precision": macro["macro_precision"],
        "recall": macro["macro_recall"],
        "f1": macro["macro_f1"],
        "roc_auc": float(np.mean(present)) if present else float("nan"),
        "roc_auc_per_class": aucs,
        "log_loss": calibration.log_loss(labels, z),
        **macro,
    }
