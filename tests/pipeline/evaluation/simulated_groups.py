"""Simulated repeat groups with a known answer, for the coverage tests of
`pipeline.evaluation.repeats` and for `python -m tests.pipeline.evaluation.simulated_groups`,
which prints the coverage table of docs/compare-and-sweeps.md.

Each photo's difficulty d ~ N(0, DIFFICULTY^2) is drawn afresh per group, each repeat has a
seed effect u ~ N(0, seed^2), and each answer is right with P = sigmoid(ability + u - d).
The true accuracy, over photos and seeds, is E[sigmoid(N(ability, seed^2 + DIFFICULTY^2))],
by Gauss-Hermite quadrature.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats as sps

from pipeline.evaluation import repeats

DIFFICULTY, SEED, GROUPS, K, N = 1.5, 0.25, 1000, 5, 400


def true_accuracy(ability: float, seed: float = SEED) -> float:
    x, w = np.polynomial.hermite_e.hermegauss(80)
    scale = math.sqrt(seed**2 + DIFFICULTY**2)
    return float(np.sum(w / (1 + np.exp(-(ability + scale * x)))) / np.sqrt(2 * np.pi))


def simulate(rng, ability: float, difficulty: np.ndarray, seed: float = SEED) -> np.ndarray:
    """(K, n) answers, right or wrong, of one model on the photos of `difficulty`."""
    effect = rng.normal(0, seed, (K, 1))
    p = 1 / (1 + np.exp(-(ability + effect - difficulty[None, :])))
    return rng.random(p.shape) < p


def _added_intervals(cells: np.ndarray) -> tuple[float, float]:
    """The interval the two-way analysis replaced: a t interval over repeats added to one over
    photos (Welch-Satterthwaite), which counts the answers' own noise twice."""
    k, n = cells.shape
    rows, cols = cells.mean(axis=1), cells.mean(axis=0)
    terms = [(np.var(rows, ddof=1) / k, k - 1), (np.var(cols, ddof=1) / n, n - 1)]
    total = sum(v for v, _ in terms)
    df = total**2 / sum(v**2 / d for v, d in terms if v)
    half = sps.t.ppf(0.975, df) * math.sqrt(total)
    return rows.mean() - half, rows.mean() + half


def coverage(seed: float, photos: int, groups: int = GROUPS) -> dict[str, float]:
    """Shares of `groups` simulated groups whose intervals cover the true accuracy (and the
    true difference of two models on the same photos)."""
    rng = np.random.default_rng(1)
    truth = true_accuracy(1.6, seed)
    difference = true_accuracy(1.9, seed) - truth
    hits = {"accuracy": 0, "difference": 0, "accuracy, added": 0, "difference, added": 0}
    for _ in range(groups):
        difficulty = rng.normal(0, DIFFICULTY, photos)
        a, b = simulate(rng, 1.9, difficulty, seed), simulate(rng, 1.6, difficulty, seed)
        one = repeats.spread(b)
        hits["accuracy"] += one.low <= truth <= one.high
        d = repeats.pair("A", "B", a=a, b=b).difference
        hits["difference"] += d.low <= difference <= d.high
        low, high = _added_intervals(b.astype(float))
        hits["accuracy, added"] += low <= truth <= high
        low, high = _added_intervals(a.astype(float) - b)
        hits["difference, added"] += low <= difference <= high
    return {key: n / groups for key, n in hits.items()}


def main() -> None:
    print(f"{GROUPS:,} simulated groups of {K} repeats each; 95% intervals")
    print("seed effect  photos  accuracy  difference  | added intervals: accuracy  difference")
    for seed, photos in ((0.05, 400), (0.25, 400), (0.6, 400), (0.6, 4000)):
        c = coverage(seed, photos)
        print(
            f"{seed:>11}  {photos:>6,}  {c['accuracy']:>8.1%}  {c['difference']:>10.1%}  |"
            f"  {c['accuracy, added']:>24.1%}  {c['difference, added']:>10.1%}"
        )


if __name__ == "__main__":
    main()
