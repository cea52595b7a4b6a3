"""The columns of a model's predictions.csv, for two classes or N, and reading them back.

Two classes keep the schema of every earlier run: `p_dog` holds P(second class)
(whatever the classes are called) and `logit` its pre-sigmoid value. More than two
classes get one probability column and one logit column per class, named after
the class (`p:<class>`, `logit:<class>`), in sorted class-folder order.

Every reader sees the same shape either way: an (n, N) matrix of class
probabilities and one of logits. For two classes the logits are [0, z]: the softmax
of [0, z] is [1 - sigmoid(z), sigmoid(z)], so every N-class formula (top-label
confidence, temperature scaling, log loss) gives the two-class answer unchanged.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

BINARY_P = "p_dog"  # P(second class) in two-class runs (the name of the first study's column)
BINARY_LOGIT = "logit"
# Only where a model has no final Dense with a known activation, or a run was stored
# before logits were: probabilities are clipped to get finite logits.
EPS = 1e-7


def is_binary(class_names: list[str]) -> bool:
    return len(class_names) == 2


def probability_column(class_name: str) -> str:
    return f"p:{class_name}"


def logit_column(class_name: str) -> str:
    return f"logit:{class_name}"


def logits_from_probabilities(p: np.ndarray) -> np.ndarray:
    """logit(p) with p clipped to [EPS, 1 - EPS]: saturated predictions lose their size."""
    p = np.clip(np.asarray(p, float), EPS, 1 - EPS)
    return np.log(p) - np.log1p(-p)


def log_probabilities(p: np.ndarray) -> np.ndarray:
    """Logits of an (n, N) probability matrix (softmax-equivalent: log p, clipped)."""
    return np.log(np.clip(np.asarray(p, float), EPS, 1.0))


def predicted_classes(probabilities: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Class index per row: P(second) >= threshold for a (n,) two-class vector, else argmax."""
    probabilities = np.asarray(probabilities)
    if probabilities.ndim == 1:
        return (probabilities >= threshold).astype(int)
    return probabilities.argmax(axis=1).astype(int)


def as_matrix(probabilities: np.ndarray) -> np.ndarray:
    """(n, N) class probabilities from a model's scores: a (n,) P(second class) becomes
    [1 - p, p]."""
    p = np.asarray(probabilities, float)
    return np.stack([1 - p, p], axis=1) if p.ndim == 1 else p


def logit_matrix(logits: np.ndarray) -> np.ndarray:
    """(n, N) logits from a model's scores: a (n,) two-class logit z becomes [0, z]."""
    z = np.asarray(logits, float)
    return np.stack([np.zeros_like(z), z], axis=1) if z.ndim == 1 else z


def prediction_frame(
    *,
    paths: list[str],
    labels: np.ndarray,
    probabilities: np.ndarray,
    logits: np.ndarray,
    class_names: list[str],
) -> pd.DataFrame:
    """predictions.csv of one model: (n,) scores for two classes, (n, N) for more."""
    probabilities = np.asarray(probabilities)
    predicted = predicted_classes(probabilities)
    if is_binary(class_names):
        return pd.DataFrame(
            {
                "path": paths,
                "label": labels,
                BINARY_P: probabilities.reshape(-1),
                BINARY_LOGIT: np.asarray(logits).reshape(-1),
                "predicted": predicted,
            }
        )
    columns: dict = {"path": paths, "label": labels, "predicted": predicted}
    for i, name in enumerate(class_names):
        columns[probability_column(name)] = probabilities[:, i]
    for i, name in enumerate(class_names):
        columns[logit_column(name)] = np.asarray(logits)[:, i]
    return pd.DataFrame(columns)


def probabilities_of(frame: pd.DataFrame, class_names: list[str]) -> np.ndarray:
    """(n, N) class probabilities of a stored predictions frame, for any run."""
    if is_binary(class_names):
        return as_matrix(frame[BINARY_P].to_numpy(float))
    return frame[[probability_column(c) for c in class_names]].to_numpy(float)


def logits_of(frame: pd.DataFrame, class_names: list[str]) -> np.ndarray:
    """(n, N) logits of a stored predictions frame; for two-class runs stored before the
    `logit` column existed, recovered from P(second class)."""
    if is_binary(class_names):
        if BINARY_LOGIT in frame:
            z = frame[BINARY_LOGIT].to_numpy(float)
        else:
            z = logits_from_probabilities(frame[BINARY_P].to_numpy(float))
        return logit_matrix(z)
    columns = [logit_column(c) for c in class_names]
    if all(c in frame for c in columns):
        return frame[columns].to_numpy(float)
    return log_probabilities(probabilities_of(frame, class_names))


def confidence_of(frame: pd.DataFrame, class_names: list[str]) -> np.ndarray:
    """Each row's probability of the class it was predicted as (in the column's own dtype)."""
    if is_binary(class_names):
        p = frame[BINARY_P].to_numpy()
        return np.where(frame["predicted"].to_numpy() == 1, p, 1 - p)
    p = frame[[probability_column(c) for c in class_names]].to_numpy()
    return p[np.arange(len(p)), frame["predicted"].to_numpy(int)]


def readable(frame: pd.DataFrame, class_names: list[str]) -> bool:
    """Whether a stored predictions frame has the columns this schema reads for these classes."""
    if is_binary(class_names):
        return BINARY_P in frame
    return all(probability_column(c) in frame for c in class_names)
