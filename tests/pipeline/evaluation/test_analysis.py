"""The run analysis: pure parts on hand-made predictions, the whole on the real quick run."""

import keras
import numpy as np
import pandas as pd
import pytest

from pipeline.data.dataset import read_exclusions
from pipeline.data.images import load_model_input
from pipeline.evaluation import analysis, gradcam
from pipeline.modeling import saved_models
from pipeline.store import artifacts


def _frame(p_dog, labels):
    p_dog = np.asarray(p_dog, float)
    return pd.DataFrame(
        {
            "path": [f"x/{i}.jpg" for i in range(len(p_dog))],
            "label": labels,
            "p_dog": p_dog,
            "predicted": (p_dog >= 0.5).astype(int),
        }
    )


def test_suspects_are_photos_every_model_confidently_gives_the_other_class():
    labels = [0, 0, 1, 1]
    wide = analysis.wide_predictions(
        {
            "a": _frame([0.95, 0.97, 0.02, 0.9], labels),
            "b": _frame([0.92, 0.6, 0.05, 0.99], labels),
        }
    )
    found = analysis.suspects(wide, ["a", "b"], min_confidence=0.9)
    # photo 0: a cat both call dog at >= 0.92; photo 2: a dog both call cat at >= 0.95.
    assert found.path.tolist() == ["x/2.jpg", "x/0.jpg"]
    assert found.min_confidence_other.tolist() == pytest.approx([0.95, 0.92])
    assert list(found.columns[:2]) == ["path", "label"]


def test_suspects_csv_is_a_valid_exclusion_file(tmp_path):
    wide = analysis.wide_predictions({"a": _frame([0.99, 0.1], [0, 0])})
    file = tmp_path / "suspects.csv"
    analysis.suspects(wide, ["a"]).to_csv(file, index=False)
    assert read_exclusions(str(file)) == ["x/0.jpg"]


def _saturated(n: int = 100, n_wrong: int = 10) -> pd.DataFrame:
    """A model certain of every photo (logits +-40, P(dog) exactly 0 or 1), wrong on some."""
    labels = np.array([1, 0] * (n // 2))
    logits = np.where(labels == 1, 40.0, -40.0)
    logits[:n_wrong] = -logits[:n_wrong]
    return _frame(1 / (1 + np.exp(-logits)), labels).assign(logit=logits)


def test_wide_predictions_carry_stored_logits_or_ones_recovered_from_p_dog():
    saturated = _saturated()
    wide = analysis.wide_predictions({"new": saturated, "old": saturated.drop(columns="logit")})
    wide = wide.set_index("path").loc[saturated.path]
    np.testing.assert_array_equal(wide["logit_new"], saturated["logit"])
    clipped = np.log((1 - 1e-7) / 1e-7)  # an old run's P(dog) of 1.0 is clipped to 1 - 1e-7
    np.testing.assert_allclose(wide["logit_old"], np.sign(saturated["logit"]) * clipped)
    np.testing.assert_array_equal(wide["p_new"], saturated["p_dog"])


def test_analysis_fits_the_temperature_on_the_stored_logits(tmp_path):
    saturated = _saturated()
    frames = {"new": saturated, "old": saturated.drop(columns="logit")}
    records = [{"name": n, "metrics": {"accuracy": 0.9}, "params": 1} for n in frames]
    run = artifacts.Run(tmp_path, {"models": records})
    for name, frame in frames.items():
        run.model_dir(name).mkdir(parents=True)
        frame.to_csv(run.model_dir(name) / artifacts.PREDICTIONS, index=False)
    reports = {n: r["calibration"] for n, r in analysis.analyze(run)["per_model"].items()}
    # Right on 90%: the best T makes every prediction 0.9 sure, 40 / T = logit(0.9).
    assert reports["new"]["temperature"] == pytest.approx(40 / np.log(9), rel=1e-3)
    assert reports["new"]["before"]["log_loss"] == pytest.approx(0.1 * 40)
    # An old run's clipped logits (+-16.1) understate how sure the model was.
    clipped = np.log((1 - 1e-7) / 1e-7)
    assert reports["old"]["temperature"] == pytest.approx(clipped / np.log(9), rel=1e-3)


def test_pareto_front_and_cost_per_point():
    assert analysis.pareto_front([0.8, 0.9, 0.85, 0.98], [1, 2, 3, 10]) == [
        True,
        True,
        False,
        True,
    ]
    records = [
        {"name": n, "metrics": {"accuracy": a, "latency_ms": ms}, "size_bytes": 1e6, "params": 1}
        for n, a, ms in (("fast", 0.80, 2.0), ("slow", 0.90, 12.0), ("bad", 0.85, 20.0))
    ]
    rows = {r["name"]: r for r in analysis.efficiency(records)}
    assert rows["fast"]["on_frontier"] and rows["slow"]["on_frontier"]
    assert not rows["bad"]["on_frontier"]
    assert rows["slow"]["ms_per_point"] == pytest.approx(1.0)  # 10 ms for 10 points


def test_ranking_curves_end_points_and_auc():
    labels = np.array([0, 0, 1, 1])
    curves = analysis.ranking_curves(labels, np.array([0.1, 0.4, 0.35, 0.8]))
    assert curves["roc_auc"] == pytest.approx(0.75)
    assert curves["roc"]["fpr"][0] == 0 and curves["roc"]["tpr"][-1] == 1
    assert max(curves["roc"]["threshold"]) <= 1.0
    assert len(curves["pr"]["recall"]) == len(curves["pr"]["threshold"])


def test_ranking_curves_are_thinned():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 5000)
    curves = analysis.ranking_curves(labels, rng.random(5000), max_points=50)
    assert len(curves["roc"]["fpr"]) <= 50 and curves["roc"]["tpr"][-1] == 1.0


@pytest.mark.integration
def test_a_finished_run_stores_its_analysis(real_run):
    result = real_run.analysis()
    assert result is not None and result["models"] == real_run.model_names()
    for name in real_run.model_names():
        mine = result["per_model"][name]
        assert mine["accuracy"] == pytest.approx(real_run.model_record(name)["metrics"]["accuracy"])
        low, high = mine["accuracy_ci95"]
        assert low <= mine["accuracy"] <= high  # equal to high at 100% accuracy
        assert 0 <= mine["calibration"]["before"]["ece"] <= 1
    assert len(result["mcnemar"]) == 6 and all(r["verdict"] for r in result["mcnemar"])
    assert np.diag(result["agreement"]["matrix"]).tolist() == [1.0] * 4
    assert real_run.suspects() is not None
    assert len(real_run.suspects()) == result["suspects"]["count"]


@pytest.mark.integration
def test_stored_gradcam_maps_are_what_the_saved_models_give(real_run, shared_data):
    paths = analysis.photos_to_explain(real_run)
    assert paths
    stored = analysis.read_explanation(real_run.gradcam_of(paths[0]))
    assert set(stored) == set(real_run.model_names())
    for name in ("cnn4", "mobilenetv2_finetuned"):
        model = saved_models.load(real_run.model_path(name))
        size = tuple(model.input_shape[1:3])
        image = load_model_input(shared_data / paths[0], size)
        np.testing.assert_array_equal(stored[name]["image"], image)
        heat = gradcam.gradcam(model, image[None].astype(np.float32), "negative")[0]
        np.testing.assert_allclose(stored[name]["negative"], heat, atol=2e-3)  # float16
        assert stored[name]["positive"].shape == size


@pytest.mark.integration
def test_analyze_command_rebuilds_a_deleted_analysis(real_run, shared_data, tmp_path):
    import shutil

    from pipeline.workflows.rescore import analyze_run

    copy = tmp_path / real_run.path.name
    shutil.copytree(real_run.path, copy)
    (copy / artifacts.ANALYSIS).unlink()
    shutil.rmtree(copy / artifacts.GRADCAM)
    run = artifacts.read_run(copy)
    analyze_run(run, str(shared_data))
    assert run.analysis()["mcnemar"] == real_run.analysis()["mcnemar"]
    assert len(list((copy / artifacts.GRADCAM).glob("*.npz"))) == len(
        list((real_run.path / artifacts.GRADCAM).glob("*.npz"))
    )


def test_explain_photos_skips_models_grad_cam_cannot_explain(tmp_path):
    from pipeline.data.dataset import find_classes, list_files
    from pipeline.modeling import models
    from tests.imagefactory import write_class_folder

    root = write_class_folder(tmp_path / "data", n_per_class=2, size=40)
    paths = [s.path for s in list_files(root, find_classes(root))] + ["Cat/missing.jpg"]
    inputs = keras.Input((32, 32, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(inputs)
    opaque = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(pooled))
    run = artifacts.Run(tmp_path / "run", {})
    count = analysis.explain_photos(
        run, str(root), paths, {"cnn3": models.build_cnn3(32), "opaque": opaque}
    )
    assert count == 4  # the missing photo is skipped
    stored = analysis.read_explanation(next((tmp_path / "run" / artifacts.GRADCAM).glob("*.npz")))
    assert set(stored) == {"cnn3"} and stored["cnn3"]["image"].shape == (32, 32, 3)
