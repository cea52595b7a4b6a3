"""Is one model really better than another? Intervals and paired tests on one validation set.

Pure functions of arrays, shared by the pipeline (which stores the results)
and the dashboard (which shows them).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats as sps

Z95 = 1.959963984540054
# Below this many discordant pairs the chi-square approximation is poor: use the exact test.
EXACT_BELOW = 25


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a proportion (95% by default); (0, 1) when n is 0.

    `z` is the normal quantile of the two-sided level: Z95 gives 95%.
    """
    if n == 0:
        return 0.0, 1.0
    level = 1 - 2 * sps.norm.sf(z)
    ci = sps.binomtest(successes, n).proportion_ci(confidence_level=level, method="wilson")
    return float(ci.low), float(ci.high)


@dataclass(frozen=True)
class McNemar:
    """Paired comparison of two classifiers on the same images.

    `a_only`: images only A got right; `b_only`: only B got right. Images both
    got right or both got wrong say nothing about which is better.
    """

    a_only: int
    b_only: int
    statistic: float
    p_value: float
    method: str


def mcnemar(a_correct: np.ndarray, b_correct: np.ndarray) -> McNemar:
    """McNemar's test: exact binomial when discordant pairs are few, else chi-square
    with continuity correction."""
    a_correct = np.asarray(a_correct, bool)
    b_correct = np.asarray(b_correct, bool)
    if a_correct.shape != b_correct.shape:
        raise ValueError("both models must be scored on the same images")
    a_only = int(np.sum(a_correct & ~b_correct))
    b_only = int(np.sum(~a_correct & b_correct))
    return mcnemar_from_counts(a_only, b_only)


def mcnemar_from_counts(a_only: int, b_only: int) -> McNemar:
    """McNemar's test from the two discordant counts. The continuity correction is
    floored at zero: equal counts are no evidence at all (statistic 0, p = 1)."""
    discordant = a_only + b_only
    if discordant == 0:
        return McNemar(a_only, b_only, 0.0, p_value=1.0, method="no discordant pairs")
    if discordant < EXACT_BELOW:
        p = sps.binomtest(a_only, discordant, 0.5).pvalue
        return McNemar(
            a_only, b_only, float(min(a_only, b_only)), p_value=float(p), method="exact binomial"
        )
    statistic = max(0, abs(a_only - b_only) - 1) ** 2 / discordant
    p = sps.chi2.sf(statistic, df=1)
    return McNemar(
        a_only,
        b_only,
        float(statistic),
        p_value=float(p),
        method="chi-square, continuity-corrected",
    )


def holm(p_values: list[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values (same order as given)."""
    m = len(p_values)
    order = np.argsort(p_values)
    adjusted = np.empty(m)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted.tolist()


def pairwise_mcnemar(correct: dict[str, np.ndarray], alpha: float = 0.05) -> list[dict]:
    """One row per pair of models, with Holm-adjusted p-values and a verdict in words."""
    pairs = list(itertools.combinations(correct, 2))
    tests = [mcnemar(correct[a], correct[b]) for a, b in pairs]
    adjusted = holm([t.p_value for t in tests])
    rows = []
    for (a, b), test, p_adj in zip(pairs, tests, adjusted, strict=True):
        row = {"model_a": a, "model_b": b, **asdict(test), "p_holm": p_adj}
        row["accuracy_a"] = float(np.mean(correct[a]))
        row["accuracy_b"] = float(np.mean(correct[b]))
        row["significant"] = bool(p_adj < alpha)
        row["verdict"] = verdict(a, b, test, p_adjusted=p_adj, alpha=alpha)
        rows.append(row)
    return rows


def verdict(a: str, b: str, test: McNemar, p_adjusted: float, alpha: float = 0.05) -> str:
    if test.a_only == test.b_only:
        return f"{a} and {b} err on equally many images: no difference."
    better, worse = (a, b) if test.a_only > test.b_only else (b, a)
    wins, losses = max(test.a_only, test.b_only), min(test.a_only, test.b_only)
    detail = f"right on {wins} images the other got wrong, vs {losses} the other way"
    if p_adjusted < alpha:
        return f"{better} is significantly better than {worse} ({detail}; p = {p_adjusted:.2g})."
    return (
        f"{better} looks better than {worse} ({detail}) but the difference is not "
        f"significant (p = {p_adjusted:.2g}): it could be chance on this validation set."
    )


def agreement_matrix(predicted: dict[str, np.ndarray]) -> dict:
    """Share of images on which each pair of models predicts the same class."""
    names = list(predicted)
    matrix = [
        [float(np.mean(np.asarray(predicted[a]) == np.asarray(predicted[b]))) for b in names]
        for a in names
    ]
    return {"names": names, "matrix": matrix}


def two_proportion_test(k_a: int, n_a: int, k_b: int, n_b: int) -> tuple[float, float]:
    """(z, two-sided p) of a pooled two-proportion z-test: for accuracies measured on
    *different* photos, where no paired test applies."""
    if min(n_a, n_b) == 0:
        return 0.0, 1.0
    pooled = (k_a + k_b) / (n_a + n_b)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    if se == 0:
        return 0.0, 1.0
    z = (k_b / n_b - k_a / n_a) / se
    return float(z), float(2 * sps.norm.sf(abs(z)))
