"""Known answers for reliability bins, ECE and temperature scaling."""

import numpy as np
import pytest

from pipeline.evaluation import calibration
from pipeline.modeling.predict import logits_from_probabilities


def _calibrated_toy_set():
    # In each group the share of positives equals the prediction exactly, so the share
    # of correct predictions also equals the confidence max(p, 1 - p).
    p, labels = [], []
    for value, positives in ((0.05, 1), (0.25, 5), (0.45, 9), (0.75, 15), (0.95, 19)):
        p += [value] * 20
        labels += [1] * positives + [0] * (20 - positives)
    return np.array(labels), np.array(p)


def _hand_made_set():
    # p:          0.92  0.07  0.81  0.16  0.62  0.42
    # predicts:   dog   cat   dog   cat   dog   cat
    # confidence: 0.92  0.93  0.81  0.84  0.62  0.58
    # correct:    yes   no    no    yes   yes   no
    return np.array([1, 1, 0, 0, 1, 1]), np.array([0.92, 0.07, 0.81, 0.16, 0.62, 0.42])


def test_ece_of_a_perfectly_calibrated_set_is_zero():
    labels, p = _calibrated_toy_set()
    assert calibration.expected_calibration_error(labels, p) == pytest.approx(0.0, abs=1e-12)
    assert calibration.positive_calibration_error(labels, p) == pytest.approx(0.0, abs=1e-12)


def test_ece_of_an_always_certain_coin_flip_is_one_half():
    labels = np.array([0, 1] * 50)
    assert calibration.expected_calibration_error(labels, np.ones(100)) == pytest.approx(0.5)
    certain = np.array([1.0, 0.0, 1.0, 0.0] * 25)  # says dog or cat, always at 100%
    coin = np.array([1, 1, 0, 0] * 25)  # right half of the time
    assert calibration.expected_calibration_error(coin, certain) == pytest.approx(0.5)


def test_top_label_ece_by_hand():
    labels, p = _hand_made_set()
    # Confidence bins of width 0.05 over [0.5, 1]:
    #   [0.90, 0.95): 0.92 right, 0.93 wrong -> |0.5 - 0.925| = 0.425, 2 photos
    #   [0.80, 0.85): 0.81 wrong, 0.84 right -> |0.5 - 0.825| = 0.325, 2 photos
    #   [0.60, 0.65): 0.62 right             -> |1 - 0.62|    = 0.38,  1 photo
    #   [0.55, 0.60): 0.58 wrong             -> |0 - 0.58|    = 0.58,  1 photo
    expected = (2 * 0.425 + 2 * 0.325 + 0.38 + 0.58) / 6
    assert calibration.expected_calibration_error(labels, p) == pytest.approx(expected)
    assert expected == pytest.approx(0.41)


def test_p_dog_binned_error_by_hand_differs_from_the_top_label_ece():
    labels, p = _hand_made_set()
    # Each photo alone in its P(dog) bin of width 0.1: gap |label - p|.
    gaps = [1 - 0.92, 1 - 0.07, 0.81, 0.16, 1 - 0.62, 1 - 0.42]
    assert calibration.positive_calibration_error(labels, p) == pytest.approx(np.mean(gaps))
    assert calibration.positive_calibration_error(labels, p) == pytest.approx(0.49)


def test_reliability_bins_count_every_prediction_once():
    labels, p = _calibrated_toy_set()
    bins = calibration.reliability_bins(labels, np.append(p[:-1], 1.0))
    assert sum(b["count"] for b in bins) == 100 and bins[-1]["count"] == 20
    assert bins[2]["mean_p"] == pytest.approx(0.25) and bins[2]["positive_rate"] == 0.25
    assert bins[1]["count"] == 0 and bins[1]["mean_p"] is None


def test_temperature_recovers_the_softening_that_was_undone():
    rng = np.random.default_rng(1)
    true_logits = rng.normal(0, 2, 20000)
    labels = (rng.random(20000) < 1 / (1 + np.exp(-true_logits))).astype(int)
    overconfident = 3 * true_logits  # true probabilities sharpened by T = 1/3
    assert calibration.fit_temperature(labels, overconfident) == pytest.approx(3.0, rel=0.05)
    report = calibration.calibration_report(labels, overconfident)
    assert report["temperature"] == pytest.approx(3.0, rel=0.05)
    assert report["after"]["ece"] < report["before"]["ece"] / 3
    assert report["after"]["ece_positive"] < report["before"]["ece_positive"] / 3
    assert report["after"]["log_loss"] < report["before"]["log_loss"]


def test_a_saturated_model_is_scaled_from_its_logits_without_clipping():
    # Logits of +-40 (P(dog) is 1.0 or 0.0 in float32), right on 90% of the photos.
    labels = np.array([1, 0] * 500)
    logits = np.where(labels == 1, 40.0, -40.0)
    logits[:100] = -logits[:100]
    # Exact loss: 10% of photos pay 40 nats, the rest log(1 + e^-40).
    assert calibration.log_loss(labels, logits) == pytest.approx(0.1 * 40 + 0.9 * np.exp(-40))
    # The best T makes every prediction 0.9 sure: 40 / T = logit(0.9). Logits recovered from
    # probabilities clipped at 1e-7 are only +-16.1, which would give T = 7.3.
    temperature = calibration.fit_temperature(labels, logits)
    assert temperature == pytest.approx(40 / np.log(9), rel=1e-3)
    scaled = calibration.apply_temperature(logits, temperature)
    np.testing.assert_allclose(np.maximum(scaled, 1 - scaled), 0.9, rtol=1e-3)
    report = calibration.calibration_report(labels, logits)
    assert np.isfinite(report["before"]["log_loss"]) and report["after"]["log_loss"] < 0.4
    assert report["before"]["ece"] == pytest.approx(0.1)
    assert report["after"]["ece"] < 0.05  # cross-fitted: each half has its own error rate


def test_old_runs_get_logits_from_clipped_probabilities():
    logits = logits_from_probabilities(np.array([0.0, 0.5, 0.9, 1.0]))
    assert np.all(np.isfinite(logits))
    np.testing.assert_allclose(logits[1:3], [0.0, np.log(9)])
    assert logits[-1] == pytest.approx(np.log((1 - 1e-7) / 1e-7))


def test_temperature_one_changes_nothing():
    logits = np.array([-2.0, 0.0, 2.0])
    np.testing.assert_allclose(
        calibration.apply_temperature(logits, 1.0), 1 / (1 + np.exp(-logits))
    )
