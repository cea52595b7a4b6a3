"""Comparing runs of any number of classes, on hand-made run folders (no photos needed)."""

import json

import numpy as np
import pandas as pd
import pytest

from pipeline.evaluation import compare
from pipeline.store import artifacts
from pipeline.store.predictions import prediction_frame


def _run(folder, class_names, labels, predicted, run_id="run") -> artifacts.Run:
    """A run folder with one model `m`: its split table and predictions.csv (the model is
    90% sure of its answer; other classes share the rest)."""
    labels, predicted = np.asarray(labels), np.asarray(predicted)
    n, k = len(labels), len(class_names)
    paths = [f"x/{i}.jpg" for i in range(n)]
    manifest = {
        "schema_version": 2,
        "run_id": run_id,
        "config": {"seed": 0},
        "dataset": {"class_names": list(class_names), "excluded": []},
        "models": [{"name": "m", "metrics": {}, "params": 1}],
    }
    artifacts.write_json(folder / artifacts.MANIFEST, manifest)
    split = pd.DataFrame({"path": paths, "label": labels, "sha256": paths, "split": "val"})
    split.to_csv(folder / artifacts.SPLIT, index=False)
    if k == 2:
        p = np.where(predicted == 1, 0.9, 0.1)
        z = np.log(p / (1 - p))
    else:
        p = np.full((n, k), 0.1 / (k - 1))
        p[np.arange(n), predicted] = 0.9
        z = np.log(p)
    frame = prediction_frame(
        paths=paths, labels=labels, probabilities=p, logits=z, class_names=list(class_names)
    )
    (folder / artifacts.MODELS / "m").mkdir(parents=True)
    frame.to_csv(folder / artifacts.MODELS / "m" / artifacts.PREDICTIONS, index=False)
    return artifacts.read_run(folder)


THREE = ["bird", "cat", "dog"]


def test_two_class_runs_compare_as_before(tmp_path):
    labels = [0, 1, 0, 1]
    a = _run(tmp_path / "a", ["cat", "dog"], labels, predicted=[0, 0, 1, 1], run_id="A")
    b = _run(tmp_path / "b", ["cat", "dog"], labels, predicted=[0, 1, 0, 0], run_id="B")
    result = compare.compare_runs(a, b)
    assert result["label_maps_differ"] is False and "message" not in result
    [row] = result["models"]
    assert row["shared_photos"] == 4 and row["difference"] == 0.25
    assert (row["test"]["a_only"], row["test"]["b_only"]) == (1, 2)
    changed = compare.fixed_and_broken(a, b, "m")
    assert list(changed.columns) == ["path", "label", "change", "p_dog_a", "p_dog_b"]
    assert changed.values.tolist() == [
        ["x/3.jpg", 1, "broke", 0.9, 0.1],
        ["x/1.jpg", 1, "fixed", 0.1, 0.9],
        ["x/2.jpg", 0, "fixed", 0.9, 0.1],
    ]


@pytest.mark.parametrize("n_classes", [3, 10])
def test_n_class_runs_are_paired_on_their_predicted_classes(tmp_path, n_classes):
    names = THREE if n_classes == 3 else [f"c{i}" for i in range(10)]
    labels = np.arange(12) % n_classes
    wrong = (labels + 1) % n_classes
    pred_a = np.where(np.arange(12) < 6, labels, wrong)  # right on the first half
    pred_b = np.where(np.arange(12) % 2 == 0, labels, wrong)  # right on the even photos
    a = _run(tmp_path / "a", names, labels, pred_a)
    b = _run(tmp_path / "b", names, labels, pred_b)
    result = compare.compare_runs(a, b)
    assert result["label_maps_differ"] is False
    assert result["class_names"] == {"a": names, "b": names}
    [row] = result["models"]
    # A alone right on photos 1, 3, 5; B alone on 6, 8, 10.
    assert (row["test"]["a_only"], row["test"]["b_only"]) == (3, 3)
    assert row["shared_photos"] == 12 and row["test"]["method"].startswith("McNemar")
    changed = compare.fixed_and_broken(a, b, "m")
    assert list(changed.columns) == [
        "path",
        "label",
        "change",
        "predicted_a",
        "predicted_b",
        "p_true_a",
        "p_true_b",
    ]
    fixed = changed[changed.change == "fixed"]
    assert fixed.path.tolist() == ["x/10.jpg", "x/6.jpg", "x/8.jpg"]
    assert fixed.p_true_a.tolist() == pytest.approx([0.1 / (n_classes - 1)] * 3)
    assert fixed.p_true_b.tolist() == pytest.approx([0.9] * 3)
    assert (fixed.predicted_b == fixed.label).all() and (fixed.predicted_a != fixed.label).all()
    assert changed[changed.change == "broke"].path.tolist() == ["x/1.jpg", "x/3.jpg", "x/5.jpg"]


def test_runs_whose_classes_differ_compare_only_their_accuracies(tmp_path):
    labels = np.arange(12) % 3
    a = _run(tmp_path / "a", THREE, labels, predicted=labels, run_id="A")  # all right
    ten = [f"c{i}" for i in range(10)]
    b = _run(tmp_path / "b", ten, labels, predicted=(labels + 1) % 10, run_id="B")  # all wrong
    result = compare.compare_runs(a, b)
    assert result["label_maps_differ"] is True
    assert result["class_names"] == {"a": THREE, "b": ten}
    assert "classify different classes" in result["message"]
    [row] = result["models"]
    assert row["a"]["accuracy"] == 1.0 and row["b"]["accuracy"] == 0.0
    assert row["shared_photos"] == 0 and "a_only" not in row["test"]
    assert row["test"]["method"] == "two-proportion z-test (unpaired)"
    assert "classes differ" in row["warning"]
    # Same label index, another class name: every photo counts as relabelled.
    assert len(result["data"]["relabelled"]) == 12
    assert compare.fixed_and_broken(a, b, "m").empty
    text = compare.render([result], "table")
    assert "warning: The runs classify different classes" in text
    assert json.loads(compare.render([result], "json"))["label_maps_differ"] is True


def test_runs_with_the_same_number_of_other_classes_differ_too(tmp_path):
    labels = np.arange(6) % 3
    a = _run(tmp_path / "a", THREE, labels, predicted=labels)
    b = _run(tmp_path / "b", ["bird", "cat", "fox"], labels, predicted=labels)
    result = compare.compare_runs(a, b)
    assert result["label_maps_differ"] is True
    # only the dogs became foxes
    assert result["data"]["relabelled"] == ["x/2.jpg", "x/5.jpg"]
