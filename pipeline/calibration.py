"""Does a model's 0.99 mean 99%? Reliability bins, expected calibration error, temperature scaling.

Calibration is judged on P(dog), the probability every model outputs: within
each bin of predicted P(dog), the share of photos that really are dogs should
equal the mean prediction.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize

EPS = 1e-7


def reliability_bins(labels: np.ndarray, p: np.ndarray, n_bins: int = 10) -> list[dict]:
    """Equal-width bins of P(positive): count, mean prediction, observed positive rate."""
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


def expected_calibration_error(labels: np.ndarray, p: np.ndarray, n_bins: int = 10) -> float:
    """Count-weighted mean gap |observed positive rate - mean prediction| over the bins."""
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


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, float), EPS, 1 - EPS)
    return np.log(p) - np.log1p(-p)


def apply_temperature(p: np.ndarray, temperature: float) -> np.ndarray:
    """sigmoid(logit(p) / T): T > 1 softens over-confident predictions, T < 1 sharpens."""
    return 1.0 / (1.0 + np.exp(-_logit(p) / temperature))


def log_loss(labels: np.ndarray, p: np.ndarray) -> float:
    labels = np.asarray(labels, float)
    p = np.clip(np.asarray(p, float), EPS, 1 - EPS)
    return float(-np.mean(labels * np.log(p) + (1 - labels) * np.log1p(-p)))


def fit_temperature(labels: np.ndarray, p: np.ndarray) -> float:
    """The temperature minimising log loss on (labels, p)."""
    result = optimize.minimize_scalar(
        lambda log_t: log_loss(labels, apply_temperature(p, float(np.exp(log_t)))),
        bounds=(-4.0, 4.0),
        method="bounded",
    )
    return float(np.exp(result.x))


def cross_fitted(labels: np.ndarray, p: np.ndarray, seed: int = 0) -> np.ndarray:
    """Temperature-scaled probabilities where each half of the photos is scaled by a
    temperature fitted on the other half, so the 'after' figures are not fitted on
    the photos they are measured on."""
    labels, p = np.asarray(labels), np.asarray(p, float)
    half = np.random.default_rng(seed).permutation(len(p)) < len(p) // 2
    scaled = np.empty_like(p)
    for fit_on in (half, ~half):
        scaled[~fit_on] = apply_temperature(p[~fit_on], fit_temperature(labels[fit_on], p[fit_on]))
    return scaled


def calibration_report(labels: np.ndarray, p: np.ndarray, n_bins: int = 10) -> dict:
    """Before/after temperature scaling: ECE, log loss, reliability bins, fitted T."""
    after = cross_fitted(labels, p)
    return {
        "n_bins": n_bins,
        "temperature": fit_temperature(labels, p),
        "before": {
            "ece": expected_calibration_error(labels, p, n_bins),
            "log_loss": log_loss(labels, p),
            "bins": reliability_bins(labels, p, n_bins),
        },
        "after": {
            "ece": expected_calibration_error(labels, after, n_bins),
            "log_loss": log_loss(labels, after),
            "bins": reliability_bins(labels, after, n_bins),
        },
    }
