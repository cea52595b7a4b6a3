"""Statistics over repeats, against answers known in advance: by hand, with no randomness,
and on simulated groups whose true accuracy is known."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from pipeline.evaluation import repeats
from tests.pipeline.evaluation import simulated_groups


def test_repeats_without_randomness_have_no_seed_spread():
    one = np.array([1, 1, 0, 1, 0, 1, 1, 1, 0, 1])
    same = np.tile(one, (5, 1))  # five repeats that answer alike: a seed that changes nothing
    found = repeats.spread(same)
    assert found.seed_std == 0 and found.per_repeat == [0.7] * 5
    # Only the photos are left: a t interval over the 10 photos' correctness.
    half = sps.t.ppf(0.975, 9) * np.std(one, ddof=1) / math.sqrt(10)
    assert (found.low, found.high) == pytest.approx((0.7 - half, 0.7 + half))
    assert repeats.pair("A", "B", a=same, b=same).verdict == (
        "A and B are equally accurate in each of the 5 repeat(s)."
    )


def test_the_interval_is_the_two_way_analysis_of_the_table_by_hand():
    correct = np.array([[1, 1, 1, 0], [1, 0, 1, 0], [1, 1, 1, 1]])  # accuracies .75, .5, 1
    found = repeats.spread(correct)
    # Mean squares, written out: repeats (rows), photos (columns), what is left.
    grand, rows, cols = 0.75, [0.75, 0.5, 1.0], [1, 2 / 3, 1, 1 / 3]
    ms_seed = 4 * sum((r - grand) ** 2 for r in rows) / 2  # 0.25
    ms_photo = 3 * sum((c - grand) ** 2 for c in cols) / 3
    rest = sum((correct[i, j] - rows[i] - cols[j] + grand) ** 2 for i in range(3) for j in range(4))
    ms_rest = rest / (2 * 3)
    total = ms_seed + ms_photo - ms_rest
    df = total**2 / (ms_seed**2 / 2 + ms_photo**2 / 3 + ms_rest**2 / 6)
    half = sps.t.ppf(0.975, df) * math.sqrt(total / 12)
    assert found.mean == pytest.approx(0.75)
    assert found.seed_std == pytest.approx(0.25)
    assert (found.low, found.high) == pytest.approx((0.75 - half, 0.75 + half))


def test_one_repeat_has_no_interval_and_says_so():
    found = repeats.pair("A", "B", a=np.array([[1, 1, 0]]), b=np.array([[1, 0, 0]]))
    assert found.difference.low is None and found.t_p_value is None
    assert found.verdict == "A beats B by +33.33 points in the one repeat: no seed spread yet."


def test_the_verdict_counts_wins_and_states_the_interval():
    rng = np.random.default_rng(3)
    n = 2000
    better = rng.random((5, n)) < 0.86
    worse = rng.random((5, n)) < 0.80
    found = repeats.pair("CNN-3", "CNN-4", a=worse, b=better)
    d = found.difference
    assert d.mean < 0 and found.b_wins == 5 and found.a_wins == 0 and found.beyond_noise
    assert found.verdict.startswith("CNN-4 beats CNN-3 in 5 of 5 repeats; mean +")
    assert found.verdict.endswith(": beyond seed and photo noise.")
    assert f"[{100 * -d.high:+.2f}, {100 * -d.low:+.2f}]" in found.verdict
    assert found.t_p_value < 0.01 and len(found.mcnemar_p) == 5


def test_a_difference_within_seed_noise_is_called_so():
    rng = np.random.default_rng(4)
    a, b = rng.random((3, 500)) < 0.8, rng.random((3, 500)) < 0.8
    found = repeats.pair("A", "B", a=a, b=b)
    assert not found.beyond_noise
    assert found.verdict.endswith("within seed and photo noise, so not a real difference yet.")


def test_wrong_counts_per_photo():
    correct = np.array([[1, 0, 0, 1], [1, 0, 1, 1], [1, 0, 1, 0]])
    assert repeats.wrong_counts(correct).tolist() == [0, 3, 1, 1]


# Simulated groups with a known answer (tests/pipeline/evaluation/simulated_groups.py).
DIFFICULTY, GROUPS, N = simulated_groups.DIFFICULTY, simulated_groups.GROUPS, simulated_groups.N
_true_accuracy, _simulate = simulated_groups.true_accuracy, simulated_groups.simulate


def test_the_interval_covers_a_known_accuracy_95_percent_of_the_time():
    rng = np.random.default_rng(2026)
    truth = _true_accuracy(1.6)
    covered = 0
    for _ in range(GROUPS):
        found = repeats.spread(_simulate(rng, 1.6, rng.normal(0, DIFFICULTY, N)))
        covered += found.low <= truth <= found.high
    assert 0.93 <= covered / GROUPS <= 0.97, covered


def test_the_interval_covers_a_known_difference_95_percent_of_the_time():
    rng = np.random.default_rng(2027)
    truth = _true_accuracy(1.9) - _true_accuracy(1.6)
    covered = 0
    for _ in range(GROUPS):
        photos = rng.normal(0, DIFFICULTY, N)  # the same photos for both models
        a, b = _simulate(rng, 1.9, photos), _simulate(rng, 1.6, photos)
        d = repeats.pair("A", "B", a=a, b=b).difference
        covered += d.low <= truth <= d.high
    assert 0.93 <= covered / GROUPS <= 0.97, covered


def test_two_groups_without_randomness_differ_by_their_photos_only():
    one = np.array([1, 1, 0, 1, 0, 1, 1, 1, 0, 1])
    other = np.array([1, 1, 1, 1, 0, 1, 1, 1, 0, 1])  # one more photo right
    found = repeats.between_groups("CNN-4", np.tile(one, (3, 1)), np.tile(other, (3, 1)))
    assert found.difference == pytest.approx(0.1) and found.welch_p is None
    d = other - one  # the photos' differences: the only noise left
    half = sps.t.ppf(0.975, 9) * np.std(d, ddof=1) / math.sqrt(10)
    assert (found.low, found.high) == pytest.approx((0.1 - half, 0.1 + half))
    assert found.verdict.startswith("CNN-4: B beats A by 10.00 points (3 vs 3 repeats), 95%")


def test_a_change_between_groups_is_covered_95_percent_of_the_time():
    rng = np.random.default_rng(2028)
    truth = _true_accuracy(1.8) - _true_accuracy(1.6)
    covered = 0
    for _ in range(GROUPS):
        photos = rng.normal(0, DIFFICULTY, N)
        a, b = _simulate(rng, 1.6, photos)[:3], _simulate(rng, 1.8, photos)
        found = repeats.between_groups("m", a, b)
        covered += found.low <= truth <= found.high
    assert 0.93 <= covered / GROUPS <= 0.97, covered
