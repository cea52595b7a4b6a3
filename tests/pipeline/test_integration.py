"""The quick pipeline on a small real subset of ../shared: every artifact, models beating chance."""

import json

import keras
import numpy as np
import pytest

from pipeline import artifacts
from pipeline.config import MODEL_NAMES as ORDER
from pipeline.evaluate import predict_samples
from pipeline.images import load_model_input

pytestmark = pytest.mark.integration


def test_every_artifact_is_written_and_readable(real_run):
    assert real_run.complete
    assert real_run.model_names() == list(ORDER)
    for name in real_run.model_names():
        assert real_run.missing_files(name) == []
        record = real_run.model_record(name)
        assert {"name", "file", "input_size", "params", "train_seconds", "metrics"} <= set(record)
        history = real_run.history(name)
        assert list(history.columns) == artifacts.HISTORY_COLUMNS
        predictions = real_run.predictions(name)
        assert len(predictions) == sum(real_run.manifest["dataset"]["counts"]["val"].values())
        confusion = real_run.confusion(name)
        assert np.sum(confusion["matrix"]) == len(predictions)
        wrong = real_run.misclassified(name)
        assert len(wrong) == int((predictions.label != predictions.predicted).sum())
        assert all(real_run.thumb_path(t).is_file() for t in wrong.thumb)
    manifest = real_run.manifest
    assert manifest["weights"]["sha256"].startswith("b5c304ec")
    assert manifest["environment"]["tensorflow"] and manifest["dataset"]["class_names"] == [
        "Cat",
        "Dog",
    ]
    assert json.loads((real_run.path / artifacts.MANIFEST).read_text())["status"] == "complete"


def test_models_beat_chance_on_held_out_photos(real_run):
    n = sum(real_run.manifest["dataset"]["counts"]["val"].values())
    # With ~160 validation photos, 60% is above chance at p < 0.01.
    for name in ("cnn3", "cnn4"):
        m = real_run.model_record(name)["metrics"]
        assert m["accuracy"] > 0.6 and m["roc_auc"] > 0.65, (name, m, n)
    for name in ("mobilenetv2_frozen", "mobilenetv2_finetuned"):
        assert real_run.model_record(name)["metrics"]["accuracy"] > 0.9


def test_finetuned_history_continues_the_frozen_epochs(real_run):
    frozen = real_run.history("mobilenetv2_frozen")
    tuned = real_run.history("mobilenetv2_finetuned")
    assert tuned.epoch.tolist() == list(range(1, len(tuned) + 1))
    assert (tuned.phase == "finetune").sum() == 1 and len(tuned) == len(frozen) + 1
    assert tuned.val_accuracy.iloc[: len(frozen)].tolist() == frozen.val_accuracy.tolist()
    record = real_run.model_record("mobilenetv2_finetuned")
    assert record["continues"] == "mobilenetv2_frozen"
    assert (
        record["trainable_params"] > real_run.model_record("mobilenetv2_frozen")["trainable_params"]
    )


def test_single_image_path_gives_the_recorded_probability(real_run, shared_data):
    """Preprocessing parity: bytes of one photo -> same P(dog) as the evaluation pipeline."""
    predictions = real_run.predictions("mobilenetv2_finetuned").head(3)
    model = keras.models.load_model(real_run.model_path("mobilenetv2_finetuned"), safe_mode=True)
    size = tuple(real_run.model_record("mobilenetv2_finetuned")["input_size"])
    for path, p_dog in zip(predictions.path, predictions.p_dog, strict=True):
        pixels = load_model_input((shared_data / path).read_bytes(), size)
        p = float(model.predict_on_batch(pixels[None].astype("float32"))[0, 0])
        assert p == pytest.approx(p_dog, abs=1e-5)


def test_history_val_accuracy_matches_the_final_evaluation(real_run):
    for name in real_run.model_names():
        last = real_run.history(name).val_accuracy.iloc[-1]
        assert last == pytest.approx(real_run.model_record(name)["metrics"]["accuracy"], abs=1e-6)


def test_evaluate_command_reproduces_the_metrics(real_run, shared_data):
    """Re-scoring from the photos gives what training recorded, including the predictions
    the MobileNetV2s computed from cached activations."""
    from pipeline.rescore import evaluate_run

    names = real_run.model_names()
    before = {n: real_run.model_record(n)["metrics"]["accuracy"] for n in names}
    p_before = {n: real_run.predictions(n).p_dog.to_numpy() for n in names}
    results = evaluate_run(real_run, str(shared_data))
    assert {n: r["accuracy"] for n, r in results.items()} == pytest.approx(before)
    for name in names:
        np.testing.assert_allclose(real_run.predictions(name).p_dog, p_before[name], atol=1e-4)


def test_predict_samples_is_order_preserving(real_run, shared_data):
    model = keras.models.load_model(real_run.model_path("cnn3"), safe_mode=True)
    from pipeline.dataset import Sample

    split = real_run.split()
    samples = [Sample(p, int(y)) for p, y in split[["path", "label"]].values[:5]]
    forward = predict_samples(model, str(shared_data), samples, (64, 64), 2)
    backward = predict_samples(model, str(shared_data), samples[::-1], (64, 64), 3)
    np.testing.assert_allclose(forward, backward[::-1], atol=1e-6)
