"""Classification metrics as pure functions of arrays, shared by pipeline and dashboard."""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm

from pipeline.evaluation import calibration
from pipeline.modeling.predict import logits_from_probabilities


def predicted_labels(p_positive: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    return (np.asarray(p_positive) >= threshold).astype(int)


def confusion(
    labels: np.ndarray, p_positive: np.ndarray, threshold: float = 0.5
) -> list[list[int]]:
    """2x2 counts, rows = true class, columns = predicted class."""
    matrix = skm.confusion_matrix(labels, predicted_labels(p_positive, threshold), labels=[0, 1])
    return matrix.tolist()


def per_class(matrix: list[list[int]], class_names: list[str]) -> dict[str, dict[str, float]]:
    """Precision and recall of each class from a confusion matrix."""
    m = np.asarray(matrix, dtype=float)
    result = {}
    for i, name in enumerate(class_names):
        predicted, actual = m[:, i].sum(), m[i, :].sum()
        result[name] = {
            "precision": float(m[i, i] / predicted) if predicted else 0.0,
            "recall": float(m[i, i] / actual) if actual else 0.0,
            "support": int(actual),
        }
    return result


def classification_metrics(
    labels: np.ndarray,
    p_positive: np.ndarray,
    threshold: float = 0.5,
    logits: np.ndarray | None = None,
) -> dict[str, float]:
    """Accuracy, precision, recall, F1 (positive class), ROC AUC and log loss.

    The log loss is the calibration analysis' own (`calibration.log_loss`), from `logits`
    when given (exact where P rounds to 0 or 1), else from the clipped probabilities."""
    labels = np.asarray(labels).astype(int)
    p = np.asarray(p_positive, dtype=float)
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
    }
