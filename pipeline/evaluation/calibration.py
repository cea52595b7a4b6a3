"""Does a model's 0.99 mean 99%? Expected calibration error, reliability bins, temperature scaling.

Two errors are reported. `ece` is the standard top-label ECE: predictions are
binned by confidence in the class they predict, max(p, 1 - p), and each bin's
accuracy is compared with its mean confidence. `ece_positive` is the gap of the
reliability diagram, which bins P(dog) instead (a calibration curve): within
each bin the share of photos that really are dogs should equal the mean P(dog).

Temperature scaling works on the models' logits (the values before the
sigmoid), so a saturated model whose P(dog) rounds to exactly 0 or 1 keeps its
true confidence instead of being clipped.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize, special


def reliability_bins(labels: np.ndarray, p: np.ndarray, n_bins: int = 10) -> list[dict]:
    """Equal-width bins of P(positive) over [0, 1]: count, mean prediction, observed positive
    rate."""
    labels = np.asarray(labels, float)
    p = np.asarray(p, float)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1], right=False), 0, n_bins - 1)
    bins = []
    for b in range(n_bins):
        inside = which == b
        count = int(inside.sum())
        bins.append(
            {
                "low": float(edges[b]),
                "high": float(edges[b + 1]),
                "count": count,
                "mean_p": float(p[inside].mean()) if count else None,
                "positive_rate": float(labels[inside].mean()) if count else None,
            }
        )
    return bins


def positive_calibration_error(labels: np.ndarray, p: np.ndarray, n_bins: int = 10) -> float:
    """The reliability diagram's error: count-weighted mean gap |observed positive rate - mean
    P(positive)| over `reliability_bins`."""
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
    equal-width bins of confidence max(p, 1 - p) over [0.5, 1] (a binary classifier's
    confidence is never below 0.5, so bins over [0, 1] would leave half of them empty).
    A prediction is correct when (p >= 0.5) equals its label."""
    labels = np.asarray(labels, int)
    p = np.asarray(p, float)
    if len(p) == 0:
        return 0.0
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
    """P(positive) = sigmoid(logit / T): T > 1 softens over-confident predictions, T < 1
    sharpens."""
    return special.expit(np.asarray(logits, float) / temperature)


def log_loss(labels: np.ndarray, logits: np.ndarray) -> float:
    """Mean binary cross-entropy from logits: -log sigmoid(z) = logaddexp(0, -z) stays exact
    and finite where sigmoid(z) rounds to 0 or 1."""
    labels = np.asarray(labels, float)
    logits = np.asarray(logits, float)
    return float(np.mean(np.logaddexp(0.0, logits) - labels * logits))


def fit_temperature(labels: np.ndarray, logits: np.ndarray) -> float:
    """The temperature minimising log loss on (labels, logits)."""
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
    p = special.expit(logits)
    return {
        "ece": expected_calibration_error(labels, p, n_bins),
        "ece_positive": positive_calibration_error(labels, p, n_bins),
        "log_loss": log_loss(labels, logits),
        "bins": reliability_bins(labels, p, n_bins),
    }


def calibration_report(labels: np.ndarray, logits: np.ndarray, n_bins: int = 10) -> dict:
    """Before/after temperature scaling: top-label ECE, P(dog)-binned ECE, log loss,
    reliability bins, and the temperature fitted on all photos."""
    logits = np.asarray(logits, float)
    return {
        "n_bins": n_bins,
        "temperature": fit_temperature(labels, logits),
        "before": _summary(labels, logits, n_bins),
        "after": _summary(labels, cross_fitted(labels, logits), n_bins),
    }
