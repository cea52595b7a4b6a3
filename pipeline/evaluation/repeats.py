"""Is a difference bigger than what another seed would give? Statistics over repeats.

A repeat group trains the same settings K times, with K training seeds, on the same photos.
Its numbers have two sources of error, and both are counted:

- the seeds: another K seeds would give another mean;
- the photos: another validation set of the same size would too.

Each answer is one cell of a (repeats x photos) table, so the variance of the mean comes
from a two-way random-effects analysis of that table (one value per cell): the mean squares
of the repeats (MS_seed), of the photos (MS_photo) and of what is left (MS_rest) give

    var(mean) = (MS_seed + MS_photo - MS_rest) / (K n)

Adding a t interval over repeats to a normal interval over photos would count the answers'
own noise twice, and over-cover where the seeds matter little. For two models the table
holds each photo's difference in correctness, repeat k of each model coming from the same
run, so the photos are paired. The 95% interval is mean +- t * sqrt(var(mean)), t at
Satterthwaite's degrees of freedom: about K - 1 where the seeds dominate (a t interval over
repeats), many where the photos do. Simulated groups with a known answer are covered about
95% of the time (tests/pipeline/evaluation/test_repeats.py).

The paired test over seeds is a one-sample t test of the K differences against zero; beside
it, McNemar on each repeat (`stats.mcnemar`) says what one pair of runs alone would say.
Pure functions of arrays.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats as sps

from pipeline.evaluation.stats import mcnemar

LEVEL = 0.95


@dataclass(frozen=True)
class Spread:
    """A mean over K repeats, its seed standard deviation and its 95% interval."""

    mean: float
    seed_std: float  # sample standard deviation over the repeats (0 for one repeat)
    low: float | None  # None: one repeat, so no seed spread to count
    high: float | None
    repeats: int
    photos: int
    per_repeat: list[float]


def _combined(cells: np.ndarray) -> tuple[float, float | None, float | None]:
    """(seed std, interval low, interval high) of the mean of `cells`, (K repeats, n photos).

    Two-way random effects, one value per cell: with MS_seed, MS_photo and MS_rest the mean
    squares of the repeats, the photos and what is left, var(mean) = (MS_seed + MS_photo -
    MS_rest) / (K n), and Satterthwaite's degrees of freedom for that sum."""
    k, n = cells.shape
    per_repeat = cells.mean(axis=1)
    mean = float(per_repeat.mean())
    if k < 2:
        return 0.0, None, None
    per_photo = cells.mean(axis=0)
    ms_seed = n * float(np.var(per_repeat, ddof=1))
    ms_photo = k * float(np.var(per_photo, ddof=1)) if n > 1 else 0.0
    rest = cells - per_repeat[:, None] - per_photo[None, :] + mean
    ms_rest = float(np.sum(rest**2)) / ((k - 1) * (n - 1)) if n > 1 else 0.0
    terms = [(ms_seed, k - 1), (ms_photo, max(n - 1, 1)), (-ms_rest, max((k - 1) * (n - 1), 1))]
    total = sum(v for v, _ in terms)
    seed_std = float(np.std(per_repeat, ddof=1))
    if total <= 0:
        return seed_std, mean, mean
    df = total**2 / sum(v**2 / d for v, d in terms if v)
    half = float(sps.t.ppf(0.5 + LEVEL / 2, df)) * math.sqrt(total / (k * n))
    return seed_std, mean - half, mean + half


def spread(correct: np.ndarray) -> Spread:
    """A model's accuracy over repeats: `correct` is (K repeats, n photos) of 0/1 (or, for
    a pair, of differences in correctness)."""
    cells = np.asarray(correct, dtype=float)
    per_repeat = cells.mean(axis=1)
    std, low, high = _combined(cells)
    return Spread(
        mean=float(per_repeat.mean()),
        seed_std=std,
        low=low,
        high=high,
        repeats=len(per_repeat),
        photos=cells.shape[1],
        per_repeat=[float(a) for a in per_repeat],
    )


@dataclass(frozen=True)
class PairOverRepeats:
    """Model A against model B over K repeats on the same photos (A - B)."""

    model_a: str
    model_b: str
    difference: Spread  # of accuracy A - B
    a_wins: int  # repeats where A was more accurate
    b_wins: int
    t_p_value: float | None  # paired t test over the repeats; None below 2 repeats
    mcnemar_p: list[float]  # McNemar's p on each repeat alone
    beyond_noise: bool  # the interval excludes 0
    verdict: str


def pair(model_a: str, model_b: str, *, a: np.ndarray, b: np.ndarray) -> PairOverRepeats:
    """`a`, `b`: (K, n) 0/1 correctness of each model, repeat k of each from the same run."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError("both models need the same repeats on the same photos")
    difference = spread(a - b)
    per_repeat = np.array(difference.per_repeat)
    std, low, high = difference.seed_std, difference.low, difference.high
    t_p = None
    if len(per_repeat) >= 2:
        t_p = 1.0 if std == 0 and difference.mean == 0 else _t_p(per_repeat)
    beyond = low is not None and (low > 0 or high < 0)
    a_wins, b_wins = int(np.sum(per_repeat > 0)), int(np.sum(per_repeat < 0))
    return PairOverRepeats(
        model_a=model_a,
        model_b=model_b,
        difference=difference,
        a_wins=a_wins,
        b_wins=b_wins,
        t_p_value=t_p,
        mcnemar_p=[mcnemar(x > 0.5, y > 0.5).p_value for x, y in zip(a, b, strict=True)],
        beyond_noise=beyond,
        verdict=_words(model_a, model_b, difference, beyond=beyond, wins=(a_wins, b_wins)),
    )


def _t_p(per_repeat: np.ndarray) -> float:
    if np.ptp(per_repeat) == 0:  # every repeat the same non-zero difference
        return 0.0
    return float(sps.ttest_1samp(per_repeat, 0.0).pvalue)


def _points(x: float) -> str:
    return f"{100 * x:+.2f}"


def _words(a: str, b: str, d: Spread, *, beyond: bool, wins: tuple[int, int]) -> str:
    """E.g. "CNN-4 beats CNN-3 in 5 of 5 repeats; mean +1.80 points, 95% interval
    [+1.20, +2.40]: beyond seed and photo noise." """
    k = d.repeats
    if not any(d.per_repeat):
        return f"{a} and {b} are equally accurate in each of the {k} repeat(s)."
    better, worse, won, sign = (a, b, wins[0], 1) if d.mean >= 0 else (b, a, wins[1], -1)
    mean = _points(sign * d.mean)
    if d.low is None:
        return f"{better} beats {worse} by {mean} points in the one repeat: no seed spread yet."
    low, high = sorted((sign * d.low, sign * d.high))
    text = (
        f"{better} beats {worse} in {won} of {k} repeats; mean {mean} points, "
        f"{LEVEL:.0%} interval [{_points(low)}, {_points(high)}]"
    )
    if beyond:
        return text + ": beyond seed and photo noise."
    return text + ": within seed and photo noise, so not a real difference yet."


def pairs(correct: dict[str, np.ndarray]) -> list[PairOverRepeats]:
    """Every pair of models of a repeat group, in the order given."""
    return [pair(x, y, a=correct[x], b=correct[y]) for x, y in itertools.combinations(correct, 2)]


@dataclass(frozen=True)
class GroupChange:
    """One model in two repeat groups (a setting changed): B - A on the photos both share."""

    model: str
    mean_a: float
    mean_b: float
    difference: float
    low: float | None
    high: float | None
    repeats_a: int
    repeats_b: int
    photos: int
    welch_p: float | None  # Welch's t test of the two groups' per-repeat accuracies
    beyond_noise: bool
    verdict: str


def _mean_squares(cells: np.ndarray) -> tuple[float, float]:
    """(MS of the repeats, MS of what is left) of a (K, n) table."""
    k, n = cells.shape
    rows, cols = cells.mean(axis=1), cells.mean(axis=0)
    ms_seed = n * float(np.var(rows, ddof=1)) if k > 1 else 0.0
    rest = cells - rows[:, None] - cols[None, :] + cells.mean()
    ms_rest = float(np.sum(rest**2)) / ((k - 1) * (n - 1)) if k > 1 and n > 1 else 0.0
    return ms_seed, ms_rest


def between_groups(model: str, a: np.ndarray, b: np.ndarray) -> GroupChange:
    """Whether group B's recipe beats group A's for `model`, beyond seed and photo noise.

    `a` (K_a, n) and `b` (K_b, n): 0/1 correctness on the same n photos; the seeds of the
    two groups are independent. var(B - A) = sum over the groups of (MS_seed - MS_rest) /
    (K n), each group's seed variance, plus the variance over photos of each photo's
    difference in mean correctness, / n; Satterthwaite's degrees of freedom."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape[1] != b.shape[1]:
        raise ValueError("both groups must be scored on the same photos")
    (ka, n), kb = a.shape, b.shape[0]
    per_a, per_b = a.mean(axis=1), b.mean(axis=1)
    difference = float(per_b.mean() - per_a.mean())
    low = high = welch = None
    if ka >= 2 and kb >= 2:
        terms = []
        for cells, k in ((a, ka), (b, kb)):
            ms_seed, ms_rest = _mean_squares(cells)
            terms += [(ms_seed / (k * n), k - 1), (-ms_rest / (k * n), (k - 1) * (n - 1))]
        photo = float(np.var(b.mean(axis=0) - a.mean(axis=0), ddof=1)) / n if n > 1 else 0.0
        terms.append((photo, max(n - 1, 1)))
        total = sum(v for v, _ in terms)
        half = 0.0
        if total > 0:
            df = total**2 / sum(v**2 / d for v, d in terms if v)
            half = float(sps.t.ppf(0.5 + LEVEL / 2, df)) * math.sqrt(total)
        low, high = difference - half, difference + half
        same = np.ptp(per_a) == 0 and np.ptp(per_b) == 0
        welch = None if same else float(sps.ttest_ind(per_b, per_a, equal_var=False).pvalue)
    beyond = low is not None and (low > 0 or high < 0)
    return GroupChange(
        model=model,
        mean_a=float(per_a.mean()),
        mean_b=float(per_b.mean()),
        difference=difference,
        low=low,
        high=high,
        repeats_a=ka,
        repeats_b=kb,
        photos=n,
        welch_p=welch,
        beyond_noise=beyond,
        verdict=_change_words(model, difference, (low, high), beyond=beyond, k=(ka, kb)),
    )


def _change_words(
    model: str, d: float, interval: tuple, *, beyond: bool, k: tuple[int, int]
) -> str:
    """E.g. "CNN-4: B beats A by +0.80 points (3 vs 3 repeats), 95% interval [+0.20,
    +1.40]: beyond seed and photo noise." """
    who = "B beats A" if d > 0 else ("A beats B" if d < 0 else "A and B tie")
    text = f"{model}: {who} by {100 * abs(d):.2f} points ({k[0]} vs {k[1]} repeats)"
    if interval[0] is None:
        return text + ": each group needs 2 repeats or more for an interval."
    text += f", {LEVEL:.0%} interval of B - A [{_points(interval[0])}, {_points(interval[1])}]"
    if beyond:
        return text + ": beyond seed and photo noise."
    return text + ": within seed and photo noise, so the change is not shown to matter."


def wrong_counts(correct: np.ndarray) -> np.ndarray:
    """How many of the K repeats got each photo wrong: K is a stable mistake, 1 of 5 noise."""
    correct = np.asarray(correct, dtype=bool)
    return (~correct).sum(axis=0)


def as_dict(item) -> dict:
    return asdict(item)
