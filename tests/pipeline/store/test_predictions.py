"""predictions.csv for two classes and for N: the columns written, and read back the same."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import special

from pipeline.store import artifacts, predictions

ODD = ['café, "au lait"', "Zürich lake", "plain"]


def test_two_classes_keep_the_first_studys_columns():
    frame = predictions.prediction_frame(
        paths=["a.jpg", "b.jpg"],
        labels=np.array([0, 1]),
        probabilities=np.array([0.2, 0.5], np.float32),
        logits=np.array([-1.386, 0.0], np.float32),
        class_names=["roses", "tulips"],
    )
    assert frame.columns.tolist() == ["path", "label", "p_dog", "logit", "predicted"]
    assert frame.predicted.tolist() == [0, 1]  # P(second) >= 0.5 is the second class
    assert frame.p_dog.dtype == np.float32


def test_odd_class_names_survive_a_csv_round_trip(tmp_path):
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
    frame = predictions.prediction_frame(
        paths=["x/1.jpg", "y/2.jpg"],
        labels=np.array([0, 2]),
        probabilities=p,
        logits=np.log(p),
        class_names=ODD,
    )
    artifacts.write_csv(tmp_path / "p.csv", frame)
    back = pd.read_csv(tmp_path / "p.csv")
    assert back.columns.tolist()[3] == 'p:café, "au lait"'
    np.testing.assert_allclose(predictions.probabilities_of(back, ODD), p)
    np.testing.assert_allclose(special.softmax(predictions.logits_of(back, ODD), axis=1), p)
    assert predictions.confidence_of(back, ODD).tolist() == pytest.approx([0.7, 0.6])
    assert predictions.readable(back, ODD) and not predictions.readable(back, ["a", "b"])


def test_two_class_logits_read_as_zero_and_z_give_the_sigmoid():
    frame = pd.DataFrame({"p_dog": [0.25, 0.9], "logit": [np.log(1 / 3), np.log(9)]})
    z = predictions.logits_of(frame, ["a", "b"])
    assert z[:, 0].tolist() == [0.0, 0.0]
    np.testing.assert_allclose(special.softmax(z, axis=1), [[0.75, 0.25], [0.1, 0.9]])
    older = frame.drop(columns="logit")  # a run stored before the logit column
    np.testing.assert_allclose(predictions.logits_of(older, ["a", "b"]), z, atol=1e-6)
