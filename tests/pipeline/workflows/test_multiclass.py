"""Studies of more than two classes on real CIFAR-10 photos: 3 and 10 classes, a given
train/ + val/ split of 5 classes, and a user's own 10-class model."""

from __future__ import annotations

import os
from pathlib import Path

import keras
import numpy as np
import pytest
from scipy import special

from pipeline.config import RunConfig, make_config
from pipeline.store import predictions
from pipeline.workflows.study import train_study
from pipeline.workflows.verify import verify_run
from tests.conftest import CIFAR_THREE

pytestmark = pytest.mark.integration


def _check_records(run, n_classes: int) -> None:
    """Every model's records hold N-class answers that agree with each other."""
    names = run.class_names
    assert len(names) == n_classes and names == sorted(names)
    assert run.manifest["dataset"]["num_classes"] == n_classes
    assert run.manifest["dataset"]["positive_class"] is None
    val = run.split().query("split == 'val'")
    for model in run.model_names():
        frame = run.predictions(model)
        assert sorted(frame.path) == sorted(val.path)
        p = predictions.probabilities_of(frame, names)
        assert p.shape == (len(frame), n_classes)
        np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-5)
        assert (frame.predicted.to_numpy() == p.argmax(axis=1)).all()
        softmax = special.softmax(predictions.logits_of(frame, names), axis=1)
        np.testing.assert_allclose(softmax, p, atol=1e-5)  # the logits are the pre-softmax ones
        confusion = run.confusion(model)
        matrix = np.array(confusion["matrix"])
        assert matrix.shape == (n_classes, n_classes) and matrix.sum() == len(frame)
        assert np.trace(matrix) == (frame.predicted == frame.label).sum()
        metrics = run.metrics(model)
        assert metrics["accuracy"] == pytest.approx(np.trace(matrix) / len(frame))
        assert metrics["top_k"] == (5 if n_classes > 5 else 2)
        assert metrics["top_k_accuracy"] >= metrics["accuracy"]
        assert set(metrics["roc_auc_per_class"]) == set(names)
        wrong = run.misclassified(model)
        assert len(wrong) == len(frame) - np.trace(matrix)
        assert "p_dog" not in wrong.columns
    analysis = run.analysis()
    assert analysis["class_names"] == names
    assert verify_run(run) == []


def test_a_three_class_study_on_real_photos(cifar3_run):
    _check_records(cifar3_run, 3)
    assert cifar3_run.class_names == sorted(CIFAR_THREE)
    best = max(cifar3_run.metrics(m)["accuracy"] for m in cifar3_run.model_names())
    assert best > 0.6  # chance is a third


def test_the_cnns_train_at_the_photos_own_size_and_the_run_records_it(cifar3_run):
    """The default photo-size rule: 32x32 photos are not upscaled to the CNNs' 96 px."""
    config = cifar3_run.manifest["config"]
    assert config["cnn_size_rule"] == "photo-size" and config["cnn_input_size"] == 32
    assert cifar3_run.manifest["dataset"]["typical_side"] == 32
    sizes = {m: cifar3_run.model_record(m)["input_size"] for m in cifar3_run.model_names()}
    assert sizes["cnn3"] == sizes["cnn4"] == [32, 32]
    assert sizes["mobilenetv2_frozen"] == [96, 96]  # the MobileNetV2s keep their own size
    again = RunConfig.from_dict(config)
    assert again.fingerprint() == cifar3_run.manifest["config_fingerprint"]  # the settled size


def test_a_ten_class_study_on_real_photos(cifar10_run):
    _check_records(cifar10_run, 10)
    counts = cifar10_run.manifest["dataset"]["counts"]
    assert {k: counts["train"][k] + counts["val"][k] for k in counts["train"]} == dict.fromkeys(
        cifar10_run.class_names, 40
    )
    best = max(cifar10_run.metrics(m)["accuracy"] for m in cifar10_run.model_names())
    assert best > 0.25  # chance is a tenth


def _link_given_split(source: Path, root: Path, classes: list[str], per_side: dict) -> None:
    """train/<class>/ and val/<class>/ folders of links to distinct real photos."""
    for name in classes:
        photos = sorted((source / name).iterdir())
        start = 0
        for side, n in per_side.items():
            (root / side / name).mkdir(parents=True)
            for photo in photos[start : start + n]:
                os.symlink(photo, root / side / name / photo.name)
            start += n


def test_a_given_train_val_split_of_five_classes_is_a_five_class_study(tmp_path, cifar_data):
    """The flower-style failure: train/ and val/ of 5 classes once became 'train vs val'."""
    classes = ["airplane", "bird", "deer", "frog", "truck"]
    _link_given_split(cifar_data, tmp_path / "flowers", classes, {"train": 40, "val": 12})
    config = make_config(
        "quick",
        data_dir=str(tmp_path / "flowers"),
        out_dir=str(tmp_path / "art"),
        models=("cnn3",),
        cnn_input_size=32,
        cnn_epochs=2,
        robustness_photos=0,
    )
    run = train_study(config)
    assert run.class_names == classes
    assert run.manifest["dataset"]["split"] == "given (train/, val/)"
    split = run.split()
    assert (split.path.str.split("/").str[0] == split.split).all()
    assert len(split.query("split == 'val'")) == 5 * 12
    frame = run.predictions("cnn3")
    assert [c for c in frame.columns if c.startswith("p:")] == [f"p:{c}" for c in classes]
    assert verify_run(run) == []


def _ten_class_model(path: Path, width: int = 10, activation: str = "softmax") -> Path:
    """A user's own small model at 32px with its own preprocessing in front."""
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Conv2D(8, 3, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(width, activation=activation)(x))
    model.save(path)
    return path


def test_an_external_ten_class_model_is_scored_beside_ours(cifar10_run, tmp_path):
    mine = _ten_class_model(tmp_path / "mine.keras")
    config = RunConfig.from_dict(cifar10_run.manifest["config"]).replace(
        models=("cnn3",), external=(f"mine={mine}",), out_dir=str(tmp_path / "art")
    )
    run = train_study(config)
    assert run.model_names() == ["cnn3", "mine"]
    theirs = run.predictions("mine")
    expected = keras.models.load_model(mine).predict(
        np.stack([_pixels(cifar10_run, p) for p in theirs.path]), verbose=0
    )
    got = predictions.probabilities_of(theirs, run.class_names)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert run.analysis()["models"] == ["cnn3", "mine"]
    assert verify_run(run) == []


def _pixels(run, path: str) -> np.ndarray:
    from pipeline.data.images import load_model_input

    return load_model_input(Path(run.manifest["dataset"]["root"]) / path, (32, 32)).astype(
        np.float32
    )
