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


# --- N classes -------------------------------------------------------------------------


def _softmax(z):
    z = np.asarray(z, float)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_three_class_top_label_ece_by_hand():
    # Top-label confidence in ten bins of width (1 - 1/3) / 10 over [1/3, 1]:
    #   row  probabilities       predicts  label  confidence  bin
    #   0    0.7  0.2  0.1       0         0      0.7  right  [0.667, 0.733)
    #   1    0.1  0.8  0.1       1         2      0.8  wrong  [0.8, 0.867)
    #   2    0.2  0.3  0.5       2         2      0.5  right  [0.467, 0.533)
    #   3    0.05 0.15 0.8       2         1      0.8  wrong  [0.8, 0.867)
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.3, 0.5], [0.05, 0.15, 0.8]])
    labels = np.array([0, 2, 2, 1])
    expected = ((1 - 0.7) + 2 * abs(0 - 0.8) + (1 - 0.5)) / 4
    assert calibration.expected_calibration_error(labels, p) == pytest.approx(expected)
    assert expected == pytest.approx(0.6)
    bins = calibration.reliability_bins(labels, p)
    assert bins[0]["low"] == pytest.approx(1 / 3) and bins[-1]["high"] == 1.0
    assert sum(b["count"] for b in bins) == 4
    [both_wrong] = [b for b in bins if b["count"] == 2]
    assert both_wrong["mean_p"] == pytest.approx(0.8) and both_wrong["positive_rate"] == 0.0


def test_ten_class_ece_of_an_always_certain_model_right_half_the_time_is_one_half():
    labels = np.arange(100) % 10
    predicted = np.where(np.arange(100) % 2 == 0, labels, (labels + 1) % 10)
    p = np.eye(10)[predicted]  # certain of its answer, right on every other photo
    assert calibration.expected_calibration_error(labels, p) == pytest.approx(0.5)
    bins = calibration.reliability_bins(labels, p)
    assert bins[0]["low"] == pytest.approx(0.1) and bins[-1]["count"] == 100


def _calibrated_classes(n_classes: int, n: int = 30000, seed: int = 2):
    """Labels drawn from the softmax of the logits: calibrated by construction."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 2.0, (n, n_classes))
    p = _softmax(logits)
    labels = (p.cumsum(axis=1) < rng.random((n, 1))).sum(axis=1)
    return np.minimum(labels, n_classes - 1), logits


@pytest.mark.parametrize("n_classes", [3, 10])
def test_the_temperature_of_calibrated_n_class_logits_is_one(n_classes):
    labels, logits = _calibrated_classes(n_classes)
    assert calibration.fit_temperature(labels, logits) == pytest.approx(1.0, abs=0.05)
    report = calibration.calibration_report(labels, logits)
    assert report["temperature"] == pytest.approx(1.0, abs=0.05)
    assert report["before"]["ece"] < 0.02 and "ece_positive" not in report["before"]


@pytest.mark.parametrize("n_classes", [3, 10])
def test_an_overconfident_n_class_model_gets_its_temperature_back(n_classes):
    labels, logits = _calibrated_classes(n_classes)
    report = calibration.calibration_report(labels, 2.5 * logits)
    assert report["temperature"] == pytest.approx(2.5, rel=0.05)
    assert report["after"]["ece"] < report["before"]["ece"] / 3
    assert report["after"]["log_loss"] < report["before"]["log_loss"]


def test_n_class_log_loss_is_the_multinomial_loss_exact_where_softmax_saturates():
    logits = np.array([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0], [0.0, 800.0, 0.0]])
    labels = np.array([0, 2, 0])
    by_hand = [
        -np.log(np.exp(2) / (np.exp(2) + 1 + np.exp(-1))),
        np.log(3),
        800.0 + np.log1p(2 * np.exp(-800)),  # P(class 0) underflows to 0: still finite
    ]
    assert calibration.log_loss(labels, logits) == pytest.approx(np.mean(by_hand))
    tenfold = np.zeros((4, 10))
    assert calibration.log_loss(np.arange(4), tenfold) == pytest.approx(np.log(10))


def test_softmax_of_zero_and_z_gives_the_binary_answers():
    rng = np.random.default_rng(3)
    z = 3 * rng.normal(0, 2, 4000)
    labels = (rng.random(4000) < 1 / (1 + np.exp(-z / 3))).astype(int)
    two = np.stack([np.zeros_like(z), z], axis=1)
    # The multinomial fit on [0, z] is the sigmoid fit on z (up to the optimiser's tolerance).
    assert calibration.fit_temperature(labels, two) == pytest.approx(
        calibration.fit_temperature(labels, z), rel=1e-4
    )
    assert calibration.log_loss(labels, two) == pytest.approx(calibration.log_loss(labels, z))
    p = calibration.apply_temperature(two, 2.0)
    np.testing.assert_allclose(p[:, 1], calibration.apply_temperature(z, 2.0))
    assert calibration.expected_calibration_error(labels, _softmax(two)) == pytest.approx(
        calibration.expected_calibration_error(labels, 1 / (1 + np.exp(-z)))
    )
    # A two-column report is the two-class report, to the bit, P(positive) bins included.
    assert calibration.calibration_report(labels, two) == calibration.calibration_report(labels, z)
