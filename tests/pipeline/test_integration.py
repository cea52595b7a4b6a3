"""The quick pipeline on a small real subset of ../shared: every artifact, models beating chance."""

import json
import shutil

import numpy as np
import pytest

from pipeline.config import MODEL_NAMES as ORDER
from pipeline.data.images import load_model_input
from pipeline.modeling import saved_models
from pipeline.modeling.predict import predict_samples
from pipeline.store import artifacts
from pipeline.workflows.verify import verify_run

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
    assert manifest["identity"]["preprocessing"]["loader"] >= 2
    assert set(real_run.split().columns) == set(artifacts.SPLIT_COLUMNS)
    assert verify_run(real_run) == []
    for name in real_run.model_names():  # every epoch as TensorBoard events, listed in the run
        events = list((real_run.path / artifacts.TENSORBOARD / name).rglob("events.out.tfevents*"))
        assert events and all(
            e.relative_to(real_run.path).as_posix() in real_run.manifest["files"] for e in events
        )


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
    model = saved_models.load(real_run.model_path("mobilenetv2_finetuned"))
    size = tuple(real_run.model_record("mobilenetv2_finetuned")["input_size"])
    for path, p_dog in zip(predictions.path, predictions.p_dog, strict=True):
        pixels = load_model_input((shared_data / path).read_bytes(), size)
        p = float(model.predict_on_batch(pixels[None].astype("float32"))[0, 0])
        assert p == pytest.approx(p_dog, abs=1e-5)


def test_history_val_accuracy_matches_the_final_evaluation(real_run):
    """Exactly for a model that trained in float32. A CNN trained in bfloat16 is validated in
    bfloat16 during training and saved to compute in float32, so its last epoch may differ
    from the saved model by the few photos that sit right at the threshold."""
    n = len(real_run.predictions("cnn3"))
    for name in real_run.model_names():
        last = real_run.history(name).val_accuracy.iloc[-1]
        final = real_run.model_record(name)["metrics"]["accuracy"]
        bfloat16 = any("bfloat16" in note for note in real_run.model_record(name)["notes"])
        assert last == pytest.approx(final, abs=3 / n if bfloat16 else 1e-6), name


def _copy_of(run, tmp_path) -> artifacts.Run:
    """A private copy of the session's run, for tests that rewrite files in it."""
    target = tmp_path / "art" / artifacts.RUNS / run.path.name
    shutil.copytree(run.path, target)
    return artifacts.read_run(target)


def test_evaluate_command_reproduces_the_metrics(real_run, shared_data, tmp_path):
    """Re-scoring from the photos gives what training recorded, including the predictions
    the MobileNetV2s computed from cached activations."""
    from pipeline.workflows.rescore import evaluate_run

    copy = _copy_of(real_run, tmp_path)
    names = copy.model_names()
    before = {n: copy.model_record(n)["metrics"]["accuracy"] for n in names}
    p_before = {n: copy.predictions(n).p_dog.to_numpy() for n in names}
    logit_before = {n: copy.predictions(n).logit.to_numpy() for n in names}
    results = evaluate_run(copy, str(shared_data))
    assert {n: r["accuracy"] for n, r in results.items()} == pytest.approx(before)
    for name in names:
        np.testing.assert_allclose(copy.predictions(name).p_dog, p_before[name], atol=1e-4)
        np.testing.assert_allclose(copy.predictions(name).logit, logit_before[name], atol=1e-3)
    assert verify_run(copy) == []  # evaluate refreshed the file inventory


def test_stored_logits_are_the_pre_sigmoid_values(real_run):
    for name in real_run.model_names():
        frame = real_run.predictions(name)
        p = 1 / (1 + np.exp(-frame.logit.to_numpy(np.float64)))
        np.testing.assert_allclose(p, frame.p_dog, atol=1e-5)


def test_evaluate_refuses_photos_that_differ_from_the_run(real_run, shared_data, tmp_path):
    from pipeline.errors import PipelineError
    from pipeline.workflows.rescore import evaluate_run

    copy = _copy_of(real_run, tmp_path)
    photos = tmp_path / "photos"
    val = copy.split().query("split == 'val'").path.tolist()
    for path in val:
        (photos / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(shared_data / path, photos / path)
    swapped = photos / val[0]
    swapped.write_bytes((shared_data / val[1]).read_bytes())
    with pytest.raises(PipelineError, match="1 validation photo"):
        evaluate_run(copy, str(photos))


def test_verify_passes_and_names_each_tampered_file(real_run, tmp_path, capsys):
    from pipeline.__main__ import main

    assert main(["verify", str(real_run.path)]) == 0
    assert "verified" in capsys.readouterr().out
    copy = _copy_of(real_run, tmp_path)
    predictions = copy.model_dir("cnn3") / artifacts.PREDICTIONS
    frame = copy.predictions("cnn3")
    frame.iloc[:-1].to_csv(predictions, index=False)  # one validation photo dropped
    (copy.model_dir("cnn4") / artifacts.HISTORY).write_text("epoch\n1\n")
    (copy.path / "stray.txt").write_text("?")
    problems = verify_run(copy)
    assert "changed: models/cnn3/predictions.csv (sha256 differs from the recorded one)" in (
        problems
    ) or any(p.startswith("changed: models/cnn3/predictions.csv") for p in problems)
    assert any(p.startswith("changed: models/cnn4/history.csv") for p in problems)
    assert "not in the manifest: stray.txt" in problems
    assert any("cnn3: predictions cover 0 photo(s) outside" in p for p in problems)
    assert main(["verify", str(copy.path), "--skip-models"]) == 1
    assert "does not match its manifest" in capsys.readouterr().out


def test_predict_samples_is_order_preserving(real_run, shared_data):
    model = saved_models.load(real_run.model_path("cnn3"))
    from pipeline.data.dataset import Sample

    split = real_run.split()
    samples = [Sample(p, int(y)) for p, y in split[["path", "label"]].values[:5]]
    forward, _ = predict_samples(model, str(shared_data), samples, (64, 64), 2)
    backward, _ = predict_samples(model, str(shared_data), samples[::-1], (64, 64), 3)
    np.testing.assert_allclose(forward, backward[::-1], atol=1e-6)


def test_saved_cnns_average_each_photo_with_its_mirror(real_run, shared_data):
    """The flip averaging is in the saved file: the stored answer for a real photo is the
    same for the photo mirrored, and the run says so."""
    from pipeline.modeling import flip_views

    split = real_run.split()
    paths = split[split.split == "val"].path.values[:4]
    for name in ("cnn3", "cnn4"):
        model = saved_models.load(real_run.model_path(name))
        assert flip_views.view_count(model) == 2
        assert any("mirror image" in note for note in real_run.model_record(name)["notes"])
        assert {"global_mean", "global_max"} <= {layer.name for layer in model.layers}
        size = model.input_shape[1:3]
        pixels = np.stack([load_model_input((shared_data / p).read_bytes(), size) for p in paths])
        p = model.predict_on_batch(pixels.astype("float32"))
        mirrored = model.predict_on_batch(pixels[:, :, ::-1].astype("float32"))
        np.testing.assert_allclose(p, mirrored, atol=1e-5)
        stored = real_run.predictions(name).set_index("path").loc[paths, "p_dog"].to_numpy()
        np.testing.assert_allclose(p[:, 0], stored, atol=1e-5)
