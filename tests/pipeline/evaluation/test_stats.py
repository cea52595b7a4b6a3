"""Known answers for the intervals and paired tests."""

import math

import numpy as np
import pytest
from scipy import stats as sps

from pipeline.evaluation import stats

Z95 = 1.959963984540054  # the normal quantile of 97.5%
Z99 = 2.5758293035489004  # ... and of 99.5%


def _wilson_by_formula(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The closed form (Wilson 1927), written out independently of the code under test."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def test_wilson_interval_matches_the_textbook_value():
    # 81 of 263: Wilson 95% interval (0.2553, 0.3662), Newcombe (1998), example (a).
    assert _wilson_by_formula(81, 263) == pytest.approx((0.2553, 0.3662), abs=1e-4)
    low, high = stats.wilson_interval(81, 263)
    assert low == pytest.approx(0.2553, abs=1e-4) and high == pytest.approx(0.3662, abs=1e-4)
    assert (low, high) == pytest.approx(_wilson_by_formula(81, 263), abs=1e-12)
    assert type(low) is float and type(high) is float


def test_wilson_interval_at_another_level_follows_z():
    # z is still the normal quantile: 99% is wider, and again the closed form.
    assert stats.wilson_interval(81, 263, z=Z99) == pytest.approx(
        _wilson_by_formula(81, 263, Z99), abs=1e-12
    )
    assert stats.wilson_interval(81, 263, z=Z99)[0] < stats.wilson_interval(81, 263)[0]


def test_wilson_interval_at_the_edges():
    # No successes: the lower bound is exactly 0, the upper z^2 / (n + z^2).
    assert stats.wilson_interval(0, 10) == pytest.approx((0.0, Z95**2 / (10 + Z95**2)), abs=1e-12)
    assert stats.wilson_interval(0, 10)[0] == 0.0
    # All successes: the mirror image.
    assert stats.wilson_interval(10, 10) == pytest.approx((10 / (10 + Z95**2), 1.0), abs=1e-12)
    assert stats.wilson_interval(10, 10)[1] == 1.0
    assert stats.wilson_interval(np.int64(3), 7) == pytest.approx(_wilson_by_formula(3, 7))
    assert stats.wilson_interval(0, 0) == (0.0, 1.0)


def test_mcnemar_on_a_hand_made_table():
    # A right / B wrong on 30 images, the reverse on 10: chi2 = (|30-10|-1)^2/40 = 9.025.
    a = np.array([1] * 30 + [0] * 10 + [1] * 50 + [0] * 5, bool)
    b = np.array([0] * 30 + [1] * 10 + [1] * 50 + [0] * 5, bool)
    result = stats.mcnemar(a, b)
    assert (result.a_only, result.b_only) == (30, 10)
    assert result.statistic == pytest.approx(9.025)
    assert result.p_value == pytest.approx(sps.chi2.sf(9.025, 1))
    assert result.p_value == pytest.approx(0.00266, abs=1e-5)


def test_mcnemar_uses_the_exact_test_for_few_discordant_pairs():
    result = stats.mcnemar_from_counts(1, 9)
    assert result.method == "exact binomial"
    assert result.p_value == pytest.approx(2 * (1 + 10) / 2**10)  # P(X<=1), X~Bin(10, .5), x2


def test_mcnemar_with_equal_discordant_counts_is_not_significant():
    # |30-30| - 1 would be -1, squared to a spurious 1/60; the correction stops at zero.
    result = stats.mcnemar_from_counts(30, 30)
    assert result.method == "chi-square, continuity-corrected"
    assert result.statistic == 0.0 and result.p_value == 1.0


def test_mcnemar_without_disagreement_is_not_significant():
    same = np.array([1, 0, 1], bool)
    assert stats.mcnemar(same, same).p_value == 1.0


def test_holm_adjustment():
    assert stats.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])


def test_pairwise_table_says_in_words_which_difference_is_significant():
    rng = np.random.default_rng(0)
    strong = rng.random(2000) < 0.98
    weak = rng.random(2000) < 0.80
    strong_too = strong.copy()
    strong_too[:3] = ~strong_too[:3]
    rows = stats.pairwise_mcnemar({"weak": weak, "strong": strong, "strong_too": strong_too})
    by_pair = {(r["model_a"], r["model_b"]): r for r in rows}
    assert by_pair[("weak", "strong")]["significant"]
    assert "strong is significantly better than weak" in by_pair[("weak", "strong")]["verdict"]
    assert not by_pair[("strong", "strong_too")]["significant"]
    assert "not significant" in by_pair[("strong", "strong_too")]["verdict"]


def test_agreement_matrix():
    result = stats.agreement_matrix({"a": [0, 1, 1, 0], "b": [0, 1, 0, 0]})
    assert result["names"] == ["a", "b"]
    assert result["matrix"] == [[1.0, 0.75], [0.75, 1.0]]


@pytest.mark.parametrize("n_classes", [3, 10])
def test_agreement_and_mcnemar_of_n_class_models_are_on_classes_and_correctness(n_classes):
    labels = np.arange(20) % n_classes
    a = labels.copy()
    b = labels.copy()
    a[:4] = (labels[:4] + 1) % n_classes  # a wrong on photos 0-3
    b[2:5] = (labels[2:5] + 2) % n_classes  # b wrong on 2-4, with other classes than a
    agreement = stats.agreement_matrix({"a": a, "b": b})
    assert agreement["matrix"][0][1] == pytest.approx(15 / 20)  # they differ on 0-4
    test = stats.mcnemar(a == labels, b == labels)
    assert (test.a_only, test.b_only) == (1, 2)  # b alone right on 0, 1; a alone on 4
