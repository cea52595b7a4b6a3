"""Known answers for reliability bins, ECE and temperature scaling."""

import numpy as np
import pytest

from pipeline import calibration


def _calibrated_toy_set():
    # In each group the share of positives equals the prediction exactly.
    p, labels = [], []
    for value, positives in ((0.05, 1), (0.25, 5), (0.45, 9), (0.75, 15), (0.95, 19)):
        p += [value] * 20
        labels += [1] * positives + [0] * (20 - positives)
    return np.array(labels), np.array(p)


def test_ece_of_a_perfectly_calibrated_set_is_zero():
    labels, p = _calibrated_toy_set()
    assert calibration.expected_calibration_error(labels, p) == pytest.approx(0.0, abs=1e-12)


def test_ece_of_an_always_certain_coin_flip_is_one_half():
    labels = np.array([0, 1] * 50)
    assert calibration.expected_calibration_error(labels, np.ones(100)) == pytest.approx(0.5)


def test_reliability_bins_count_every_prediction_once():
    labels, p = _calibrated_toy_set()
    bins = calibration.reliability_bins(labels, np.append(p[:-1], 1.0))
    assert sum(b["count"] for b in bins) == 100 and bins[-1]["count"] == 20
    assert bins[2]["mean_p"] == pytest.approx(0.25) and bins[2]["positive_rate"] == 0.25
    assert bins[1]["count"] == 0 and bins[1]["mean_p"] is None


def test_temperature_recovers_the_softening_that_was_undone():
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 2, 20000)
    labels = (rng.random(20000) < 1 / (1 + np.exp(-logits))).astype(int)
    overconfident = 1 / (1 + np.exp(-3 * logits))  # true probabilities sharpened by T = 1/3
    assert calibration.fit_temperature(labels, overconfident) == pytest.approx(3.0, rel=0.05)
    report = calibration.calibration_report(labels, overconfident)
    assert report["after"]["ece"] < report["before"]["ece"] / 3
    assert report["after"]["log_loss"] < report["before"]["log_loss"]


def test_temperature_one_changes_nothing():
    p = np.array([0.1, 0.5, 0.9])
    np.testing.assert_allclose(calibration.apply_temperature(p, 1.0), p)
