"""Does a model's 0.99 mean 99%? Expected calibration error, reliability bins, temperature scaling.

Two errors are reported. `ece` is the standard top-label ECE: predictions are
binned by confidence in the class they predict (max(p, 1 - p) for two classes,
the largest class probability for N) and each bin's accuracy is compared with
its mean confidence. `ece_positive` (two classes only) is the gap of the
reliability diagram, which bins P(positive) instead (a calibration curve):
within each bin the share of photos that really are positive should equal the
mean P(positive).

Temperature scaling works on the models' logits (the values before the sigmoid
or softmax), so a saturated model whose probabilities round to exactly 0 or 1
keeps its true confidence instead of being clipped.

Every function takes either a two-class model's answers, (n,) P(positive) or
(n,) logits, or an N-class model's, (n, N) probabilities or logits. A two-class
report computed from [0, z] logits is the one computed from z: softmax([0, z] / T)
is [1 - sigmoid(z / T), sigmoid(z / T)], so `calibration_report` reduces two
columns to z and gives the two-class numbers exactly.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize, special


def reliability_bins(labels: np.ndarray, p: np.ndarray, n_bins: int = 10) -> list[dict]:
    """Equal-width bins: of P(positive) over [0, 1] for (n,) `p` (count, mean prediction,
    observed positive rate), of top-label confidence over [1/N, 1] for (n, N) `p` (the same
    keys: `mean_p` is the mean confidence, `positive_rate` the share predicted right)."""
    p = np.asarray(p, float)
    if p.ndim == 2:
        confidence, correct = _top_label(labels, p)
        return _bins(correct, confidence, edges=_confidence_edges(p.shape[1], n_bins))
    return _bins(np.asarray(labels, float), p, edges=np.linspace(0.0, 1.0, n_bins + 1))


def _bins(observed: np.ndarray, predicted: np.ndarray, edges: np.ndarray) -> list[dict]:
    n_bins = len(edges) - 1
    which = np.clip(np.digitize(predicted, edges[1:-1], right=False), 0, n_bins - 1)
    bins = []
    for b in range(n_bins):
        inside = which == b
        count = int(inside.sum())
        bins.append(
            {
                "low": float(edges[b]),
                "high": float(edges[b + 1]),
                "count": count,
                "mean_p": float(predicted[inside].mean()) if count else None,
                "positive_rate": float(observed[inside].mean()) if count else None,
            }
        )
    return bins


def _confidence_edges(n_classes: int, n_bins: int) -> np.ndarray:
    """Bins of top-label confidence over [1/N, 1]: it is never below 1/N."""
    return np.linspace(1.0 / n_classes, 1.0, n_bins + 1)


def _top_label(labels: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(confidence, correct as 0/1) of (n, N) probabilities: the argmax class's."""
    predicted = p.argmax(axis=1)
    confidence = p[np.arange(len(p)), predicted]
    return confidence, (predicted == np.asarray(labels, int)).astype(float)


def positive_calibration_error(labels: np.ndarray, p: np.ndarray, n_bins: int = 10) -> float:
    """The reliability diagram's error (two classes): count-weighted mean gap |observed
    positive rate - mean P(positive)| over `reliability_bins`."""
    n = len(np.asarray(p))
    if n == 0:
        return 0.0
    return float(
        sum(
            b["count"] / n * abs(b["positive_rate"] - b["mean_p"])
            for b in reliability_bins(labels, p, n_bins)
            if b["count"]
        )
    )


def expected_calibration_error(labels: np.ndarray, p: np.ndarray, n_bins: int = 10) -> float:
    """Top-label ECE: count-weighted mean gap |accuracy - mean confidence| over `n_bins`
    equal-width bins of confidence over [1/N, 1] (a classifier's top-label confidence is
    never below 1/N, so bins over [0, 1] would leave some empty).

    (n,) `p` is P(positive) of a two-class model: confidence max(p, 1 - p) over [0.5, 1],
    correct when (p >= 0.5) equals the label. (n, N) `p`: confidence of the argmax class.
    """
    labels = np.asarray(labels, int)
    p = np.asarray(p, float)
    if len(p) == 0:
        return 0.0
    if p.ndim == 2:
        confidence, correct = _top_label(labels, p)
        edges = _confidence_edges(p.shape[1], n_bins)
    else:
        confidence = np.maximum(p, 1 - p)
        correct = (p >= 0.5).astype(int) == labels
        edges = np.linspace(0.5, 1.0, n_bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, n_bins - 1)
    total = 0.0
    for b in np.unique(which):
        inside = which == b
        total += inside.sum() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(total / len(p))


def apply_temperature(logits: np.ndarray, temperature: float) -> np.ndarray:
    """Probabilities of logits / T: sigmoid for (n,) logits (P(positive)), softmax over the
    classes for (n, N). T > 1 softens over-confident predictions, T < 1 sharpens."""
    logits = np.asarray(logits, float)
    if logits.ndim == 2:
        return special.softmax(logits / temperature, axis=1)
    return special.expit(logits / temperature)


def log_loss(labels: np.ndarray, logits: np.ndarray) -> float:
    """Mean cross-entropy from logits, exact and finite where a probability rounds to 0 or 1.

    (n,) logits (two classes): -log sigmoid(z) = logaddexp(0, -z). (n, N) logits: the
    multinomial loss logsumexp(z) - z[label]."""
    logits = np.asarray(logits, float)
    if logits.ndim == 2:
        chosen = logits[np.arange(len(logits)), np.asarray(labels, int)]
        return float(np.mean(special.logsumexp(logits, axis=1) - chosen))
    labels = np.asarray(labels, float)
    return float(np.mean(np.logaddexp(0.0, logits) - labels * logits))


def fit_temperature(labels: np.ndarray, logits: np.ndarray) -> float:
    """The temperature minimising log loss on (labels, logits), (n,) or (n, N)."""
    logits = np.asarray(logits, float)
    result = optimize.minimize_scalar(
        lambda log_t: log_loss(labels, logits / np.exp(log_t)),
        bounds=(-4.0, 4.0),
        method="bounded",
    )
    return float(np.exp(result.x))


def cross_fitted(labels: np.ndarray, logits: np.ndarray, seed: int = 0) -> np.ndarray:
    """Temperature-scaled logits (z / T) where each half of the photos is scaled by a
    temperature fitted on the other half, so the 'after' figures are not fitted on
    the photos they are measured on."""
    labels, logits = np.asarray(labels), np.asarray(logits, float)
    half = np.random.default_rng(seed).permutation(len(logits)) < len(logits) // 2
    scaled = np.empty_like(logits)
    for fit_on in (half, ~half):
        scaled[~fit_on] = logits[~fit_on] / fit_temperature(labels[fit_on], logits[fit_on])
    return scaled


def _summary(labels: np.ndarray, logits: np.ndarray, n_bins: int) -> dict:
    if logits.ndim == 2:
        p = special.softmax(logits, axis=1)
        return {
            "ece": expected_calibration_error(labels, p, n_bins),
            "log_loss": log_loss(labels, logits),
            "bins": reliability_bins(labels, p, n_bins),
        }
    p = special.expit(logits)
    return {
        "ece": expected_calibration_error(labels, p, n_bins),
        "ece_positive": positive_calibration_error(labels, p, n_bins),
        "log_loss": log_loss(labels, logits),
        "bins": reliability_bins(labels, p, n_bins),
    }


def binary_logits(logits: np.ndarray) -> np.ndarray:
    """(n,) two-class logits z from (n,) z or (n, 2) logits [a, b] (z = b - a); N > 2
    columns are returned as they are."""
    logits = np.asarray(logits, float)
    if logits.ndim == 2 and logits.shape[1] == 2:
        return logits[:, 1] - logits[:, 0]
    return logits


def calibration_report(labels: np.ndarray, logits: np.ndarray, n_bins: int = 10) -> dict:
    """Before/after temperature scaling: top-label ECE, log loss, reliability bins, and the
    temperature fitted on all photos; for two classes also the P(positive)-binned ECE
    (`ece_positive`) and P(positive) bins. `logits`: (n,) or (n, 2) for two classes,
    (n, N) for more."""
    logits = binary_logits(logits)
    return {
        "n_bins": n_bins,
        "temperature": fit_temperature(labels, logits),
        "before": _summary(labels, logits, n_bins),
        "after": _summary(labels, cross_fitted(labels, logits), n_bins),
    }
