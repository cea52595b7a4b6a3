import math

import numpy as np
import pytest

from pipeline.evaluation import calibration, metrics


def test_known_answer_metrics():
    labels = np.array([0, 0, 0, 1, 1, 1, 1, 1])
    p = np.array([0.1, 0.6, 0.2, 0.9, 0.8, 0.4, 0.7, 0.55])
    m = metrics.classification_metrics(labels, p)
    # predictions: 0 1 0 1 1 0 1 1 -> TP=4 FP=1 FN=1 TN=2
    assert m["accuracy"] == pytest.approx(6 / 8)
    assert m["precision"] == pytest.approx(4 / 5)
    assert m["recall"] == pytest.approx(4 / 5)
    assert m["f1"] == pytest.approx(0.8)
    assert m["roc_auc"] == pytest.approx(13 / 15)  # neg 0.6 outranks pos 0.4 and 0.55
    expected_loss = -np.mean(np.where(labels == 1, np.log(p), np.log(1 - p)))
    assert m["log_loss"] == pytest.approx(expected_loss)
    assert metrics.confusion(labels, p) == [[2, 1], [1, 4]]


def test_per_class_precision_and_recall():
    result = metrics.per_class([[2, 1], [1, 4]], ["Cat", "Dog"])
    assert result["Cat"] == {
        "precision": pytest.approx(2 / 3),
        "recall": pytest.approx(2 / 3),
        "f1": pytest.approx(2 / 3),
        "support": 3,
    }
    assert result["Dog"]["recall"] == pytest.approx(0.8)


def test_threshold_moves_predictions():
    labels, p = np.array([0, 1]), np.array([0.3, 0.6])
    assert metrics.classification_metrics(labels, p, threshold=0.7)["accuracy"] == 0.5
    assert metrics.confusion(labels, p, threshold=0.2) == [[0, 1], [0, 1]]


def test_single_class_auc_is_nan_not_a_crash():
    assert math.isnan(
        metrics.classification_metrics(np.ones(3), np.array([0.2, 0.8, 0.9]))["roc_auc"]
    )


def test_the_log_loss_is_the_calibration_reports_one_and_exact_from_logits():
    labels = np.array([1, 0, 1])
    logits = np.array([40.0, -3.0, -30.0])  # P(positive) of the first rounds to 1.0
    p = 1 / (1 + np.exp(-logits))
    m = metrics.classification_metrics(labels, p, logits=logits)
    by_hand = np.mean([np.log1p(np.exp(-40.0)), np.log1p(np.exp(-3.0)), 30 + np.log1p(np.exp(-30))])
    assert m["log_loss"] == pytest.approx(by_hand, rel=1e-12)
    report = calibration.calibration_report(labels, logits)
    assert m["log_loss"] == pytest.approx(report["before"]["log_loss"], rel=1e-12)
    # from probabilities alone the third photo's loss is cut at -log(1e-7) = 16.1
    assert metrics.classification_metrics(labels, p)["log_loss"] < by_hand - 4


# Three classes, six photos; rows are P(class 0, 1, 2). Predicted: 0 1 2 1 2 0.
THREE_LABELS = np.array([0, 0, 1, 1, 2, 2])
THREE_P = np.array(
    [
        [0.7, 0.2, 0.1],
        [0.2, 0.5, 0.3],
        [0.1, 0.3, 0.6],
        [0.1, 0.8, 0.1],
        [0.2, 0.2, 0.6],
        [0.5, 0.1, 0.4],
    ]
)


def test_known_answer_metrics_for_three_classes():
    m = metrics.classification_metrics(THREE_LABELS, THREE_P)
    assert m["accuracy"] == pytest.approx(3 / 6)
    # each class has 2 photos and 1 right: every recall is 1/2
    assert m["balanced_accuracy"] == pytest.approx(0.5)
    # precision: class 0 1/2 (photos 0, 5), class 1 1/2 (1, 3), class 2 1/2 (2, 4)
    assert m["macro_precision"] == pytest.approx(0.5) and m["macro_f1"] == pytest.approx(0.5)
    assert m["top_k"] == 2
    # each photo's two most probable classes, read off the rows above
    ranked_top2 = [{0, 1}, {1, 2}, {2, 1}, {1, 0}, {2, 0}, {0, 2}]
    expected = np.mean([t in r for t, r in zip(THREE_LABELS, ranked_top2, strict=True)])
    assert m["top_k_accuracy"] == pytest.approx(expected)
    assert m["log_loss"] == pytest.approx(-np.mean(np.log(THREE_P[np.arange(6), THREE_LABELS])))
    assert metrics.confusion(THREE_LABELS, THREE_P) == [[1, 1, 0], [0, 1, 1], [1, 0, 1]]
    # class 0 against the rest: positives score 0.7, 0.2; negatives 0.1, 0.1, 0.2, 0.5
    # pairs won: 0.7 beats all 4; 0.2 beats 0.1, 0.1 and ties 0.2 -> 2.5 of 4
    assert m["roc_auc_per_class"][0] == pytest.approx((4 + 2.5) / 8)
    assert m["roc_auc"] == pytest.approx(np.mean(m["roc_auc_per_class"]))


def test_top_five_past_five_classes_and_the_binary_keys_stay():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(10), size=50)
    labels = rng.integers(0, 10, size=50)
    m = metrics.classification_metrics(labels, p)
    assert m["top_k"] == 5
    top5 = np.argsort(-p, axis=1)[:, :5]
    assert m["top_k_accuracy"] == pytest.approx(
        np.mean([y in r for y, r in zip(labels, top5, strict=True)])
    )
    assert len(metrics.confusion(labels, p)) == 10
    binary = metrics.classification_metrics(np.array([0, 1, 1]), np.array([0.2, 0.7, 0.4]))
    assert {"precision", "recall", "f1", "threshold", "macro_f1"} <= set(binary)
    assert "top_k" not in binary
