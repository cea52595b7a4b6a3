"""The run analysis: pure parts on hand-made predictions, the whole on the real quick run."""

import keras
import numpy as np
import pandas as pd
import pytest

from pipeline.data.dataset import read_exclusions
from pipeline.data.images import load_model_input
from pipeline.evaluation import analysis, calibration, gradcam
from pipeline.modeling import saved_models
from pipeline.store import artifacts
from pipeline.store.predictions import prediction_frame, probabilities_of


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


Z95 = 1.959963984540054


def _wilson(k: int, n: int, z: float = Z95) -> list[float]:
    """Wilson's closed form, written out here rather than taken from the code under test."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return [centre - half, centre + half]


def _top_label_ece(labels, p) -> float:
    """Top-label ECE by hand: ten 0.05-wide bins of confidence max(p, 1 - p) over [0.5, 1]."""
    labels, p = np.asarray(labels), np.asarray(p, float)
    confidence = np.maximum(p, 1 - p)
    correct = (p >= 0.5) == (labels == 1)
    bins = np.minimum(((confidence - 0.5) / 0.05).astype(int), 9)
    return sum(
        (bins == b).sum() / len(p) * abs(correct[bins == b].mean() - confidence[bins == b].mean())
        for b in np.unique(bins)
    )


def _analyzed(tmp_path, frames: dict[str, pd.DataFrame]) -> dict:
    """`analysis.analyze` of a hand-made run holding these predictions."""
    records = [{"name": n, "metrics": {"accuracy": 0.5}, "params": 1} for n in frames]
    run = artifacts.Run(tmp_path, {"models": records})
    for name, frame in frames.items():
        run.model_dir(name).mkdir(parents=True)
        p = frame["p_dog"].to_numpy(float)
        frame.assign(logit=np.log(p / (1 - p))).to_csv(
            run.model_dir(name) / artifacts.PREDICTIONS, index=False
        )
    return analysis.analyze(run)


def test_the_stored_ece_and_interval_are_the_hand_computed_ones(tmp_path):
    # confidence max(p, 1-p), right?  bin of [0.5, 1] in 0.05 steps
    #   0.92 right, 0.94 wrong          [0.90, 0.95): accuracy 0.5, confidence 0.93
    #   0.70 right                      [0.70, 0.75)
    #   0.62 right                      [0.60, 0.65)
    #   0.98 right                      [0.95, 1.00]
    #   0.55 wrong                      [0.55, 0.60)
    p_dog = [0.92, 0.94, 0.30, 0.62, 0.02, 0.55]
    labels = [1, 0, 0, 1, 0, 0]
    mine = _analyzed(tmp_path, {"a": _frame(p_dog, labels)})["per_model"]["a"]
    ece = (2 * abs(0.5 - 0.93) + (1 - 0.70) + (1 - 0.62) + (1 - 0.98) + 0.55) / 6
    assert ece == pytest.approx(2.11 / 6)
    assert _top_label_ece(labels, p_dog) == pytest.approx(ece)
    assert mine["calibration"]["before"]["ece"] == pytest.approx(ece, abs=1e-9)
    # 4 of 6 right: Wilson's 95% interval is (0.3000, 0.9032).
    assert (mine["correct"], mine["n"], mine["accuracy"]) == (4, 6, pytest.approx(4 / 6))
    assert mine["accuracy_ci95"] == pytest.approx([0.3000, 0.9032], abs=1e-4)
    assert mine["accuracy_ci95"] == pytest.approx(_wilson(4, 6), abs=1e-12)


def test_the_verdicts_say_which_model_is_better_and_whether_it_is_chance(tmp_path):
    labels = [1, 0] * 10
    right = np.array(labels)
    wrong_on = {"good": [], "bad": list(range(10)), "close": [0]}
    frames = {}
    for name, wrong in wrong_on.items():
        predicted = right.copy()
        predicted[wrong] = 1 - predicted[wrong]
        frames[name] = _frame(np.where(predicted == 1, 0.8, 0.2), labels)
    rows = {(r["model_a"], r["model_b"]): r for r in _analyzed(tmp_path, frames)["mcnemar"]}
    # Discordant pairs 10:0, 1:0 and 0:9, all few enough for the exact binomial test:
    # p = 2 / 2^10, 1 and 2 / 2^9; Holm multiplies the smallest by 3, the next by 2.
    good_bad, good_close, bad_close = (
        rows[("good", "bad")],
        rows[("good", "close")],
        rows[("bad", "close")],
    )
    assert (good_bad["a_only"], good_bad["b_only"]) == (10, 0)
    assert good_bad["p_value"] == pytest.approx(2 / 2**10)
    assert good_bad["p_holm"] == pytest.approx(3 * 2 / 2**10)
    assert good_bad["verdict"] == (
        "good is significantly better than bad (right on 10 images the other got wrong, "
        "vs 0 the other way; p = 0.0059)."
    )
    assert bad_close["p_holm"] == pytest.approx(2 * 2 / 2**9)
    assert bad_close["verdict"] == (
        "close is significantly better than bad (right on 9 images the other got wrong, "
        "vs 0 the other way; p = 0.0078)."
    )
    assert good_close["p_holm"] == 1.0 and not good_close["significant"]
    assert good_close["verdict"] == (
        "good looks better than close (right on 1 images the other got wrong, vs 0 the "
        "other way) but the difference is not significant (p = 1): it could be chance on "
        "this validation set."
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
    right = {}  # photo -> right? per model, from each model's predictions.csv
    for name in real_run.model_names():
        frame = real_run.predictions(name)
        right[name] = (frame["predicted"] == frame["label"]).set_axis(frame["path"])
        k, n = int(right[name].sum()), len(frame)
        mine = result["per_model"][name]
        assert (mine["correct"], mine["n"]) == (k, n)
        assert mine["accuracy"] == pytest.approx(real_run.model_record(name)["metrics"]["accuracy"])
        assert mine["accuracy_ci95"] == pytest.approx(_wilson(k, n), abs=1e-9)
        p = 1 / (1 + np.exp(-frame["logit"].to_numpy(float)))
        ece = mine["calibration"]["before"]["ece"]
        assert ece == pytest.approx(_top_label_ece(frame["label"], p), abs=1e-9)
    assert len(result["mcnemar"]) == 6
    for row in result["mcnemar"]:
        a, b = row["model_a"], row["model_b"]
        a_right, b_right = right[a], right[b].reindex(right[a].index)
        a_only, b_only = int((a_right & ~b_right).sum()), int((~a_right & b_right).sum())
        assert (row["a_only"], row["b_only"]) == (a_only, b_only)
        assert row["significant"] == (row["p_holm"] < 0.05)
        if a_only == b_only:
            assert row["verdict"] == f"{a} and {b} err on equally many images: no difference."
            continue
        better, worse = (a, b) if a_only > b_only else (b, a)
        detail = (
            f"right on {max(a_only, b_only)} images the other got wrong, "
            f"vs {min(a_only, b_only)} the other way"
        )
        if row["significant"]:
            assert row["verdict"].startswith(f"{better} is significantly better than {worse} ")
        else:
            assert row["verdict"].startswith(f"{better} looks better than {worse} ")
            assert "but the difference is not significant" in row["verdict"]
        assert f"({detail}" in row["verdict"]
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
        run, str(root), paths, models={"cnn3": models.build_cnn3(32), "opaque": opaque}
    )
    assert count == 4  # the missing photo is skipped
    stored = analysis.read_explanation(next((tmp_path / "run" / artifacts.GRADCAM).glob("*.npz")))
    assert set(stored) == {"cnn3"} and stored["cnn3"]["image"].shape == (32, 32, 3)


# --- N classes -------------------------------------------------------------------------


def _n_class_frame(p, labels, class_names):
    """A model's predictions.csv rows for (n, N) probabilities (logits: log p)."""
    p = np.asarray(p, float)
    return prediction_frame(
        paths=[f"x/{i}.jpg" for i in range(len(p))],
        labels=np.asarray(labels),
        probabilities=p,
        logits=np.log(p),
        class_names=class_names,
    )


def _read_back_run(tmp_path, frames: dict[str, pd.DataFrame], class_names) -> artifacts.Run:
    """A run folder read through `artifacts.read_run`: manifest.json and predictions.csv."""
    records = [{"name": n, "metrics": {"accuracy": 0.5}, "params": 1} for n in frames]
    manifest = {
        "schema_version": 2,
        "run_id": "synthetic",
        "dataset": {"class_names": list(class_names)},
        "models": records,
    }
    artifacts.write_json(tmp_path / artifacts.MANIFEST, manifest)
    for name, frame in frames.items():
        (tmp_path / artifacts.MODELS / name).mkdir(parents=True)
        frame.to_csv(tmp_path / artifacts.MODELS / name / artifacts.PREDICTIONS, index=False)
    return artifacts.read_run(tmp_path)


def _random_frame(n_classes: int, n: int, seed: int, sharp: float = 2.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_classes, n)
    logits = rng.normal(0, 1, (n, n_classes)) + sharp * np.eye(n_classes)[labels]
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return _n_class_frame(p, labels, [f"c{i}" for i in range(n_classes)])


THREE = ["bird", "cat", "dog"]


def test_three_class_suspects_name_the_class_every_model_agrees_on():
    labels = [0, 1, 2, 2, 0]
    a = [
        [0.02, 0.95, 0.03],  # a bird both call a cat at >= 0.92: a suspect, of class cat
        [0.01, 0.98, 0.01],  # right: not a suspect
        [0.93, 0.05, 0.02],  # a dog a calls a bird, b a cat: they disagree, not a suspect
        [0.04, 0.91, 0.05],  # a dog both call a cat at >= 0.91
        [0.05, 0.89, 0.06],  # a bird a calls a cat at only 0.89
    ]
    b = [
        [0.03, 0.92, 0.05],
        [0.01, 0.98, 0.01],
        [0.02, 0.96, 0.02],
        [0.02, 0.97, 0.01],
        [0.01, 0.98, 0.01],
    ]
    frames = {"a": _n_class_frame(a, labels, THREE), "b": _n_class_frame(b, labels, THREE)}
    wide = analysis.wide_predictions(frames, THREE)
    found = analysis.suspects(wide, ["a", "b"], min_confidence=0.9, class_names=THREE)
    assert list(found.columns) == [
        "path",
        "label",
        "suspected",
        "suspected_class",
        "p_a",
        "p_b",
        "min_confidence_other",
    ]
    assert found.path.tolist() == ["x/0.jpg", "x/3.jpg"]
    assert found.suspected.tolist() == [1, 1] and found.suspected_class.tolist() == ["cat"] * 2
    assert found.p_a.tolist() == pytest.approx([0.95, 0.91])
    assert found.p_b.tolist() == pytest.approx([0.92, 0.97])
    assert found.min_confidence_other.tolist() == pytest.approx([0.92, 0.91])


def test_ten_class_suspects_and_the_binary_ones_are_unchanged():
    names = [f"c{i}" for i in range(10)]
    p = np.full((3, 10), 0.05 / 9)
    p[0, 7], p[1, 3], p[2, 2] = 0.95, 0.95, 0.95  # photo 0 labelled 1 but a 7; others right
    for row in (p[0], p[1], p[2]):
        row[row.argmax()] = 1 - row.sum() + row.max()
    frame = _n_class_frame(p, [1, 3, 2], names)
    wide = analysis.wide_predictions({"m": frame}, names)
    found = analysis.suspects(wide, ["m"], min_confidence=0.9, class_names=names)
    assert found.path.tolist() == ["x/0.jpg"] and found.suspected_class.tolist() == ["c7"]
    assert found.p_m.tolist() == pytest.approx([0.95])
    # Two classes: the columns of every earlier suspects.csv hold what they held.
    wide = analysis.wide_predictions({"a": _frame([0.95, 0.02], [0, 1])})
    binary = analysis.suspects(wide, ["a"], min_confidence=0.9)
    assert binary.path.tolist() == ["x/1.jpg", "x/0.jpg"]
    assert binary.p_a.tolist() == [0.02, 0.95]  # P(second class), as before
    assert binary.suspected.tolist() == [0, 1]
    assert binary.min_confidence_other.tolist() == pytest.approx([0.98, 0.95])


def test_selective_accuracy_by_hand():
    # confidence 0.9 0.9 0.8 0.6 0.5, right? yes no yes yes no
    correct = np.array([True, False, True, True, False])
    confidence = np.array([0.9, 0.9, 0.8, 0.6, 0.5])
    shuffled = [3, 0, 4, 2, 1]  # the order of the photos does not matter
    curve = analysis.selective_accuracy(correct[shuffled], confidence[shuffled])
    assert curve["confidence"] == [0.5, 0.6, 0.8, 0.9]
    assert curve["coverage"] == pytest.approx([1.0, 0.8, 0.6, 0.4])
    assert curve["accuracy"] == pytest.approx([3 / 5, 3 / 4, 2 / 3, 1 / 2])
    thinned = analysis.selective_accuracy(np.ones(1000, bool), np.linspace(0, 1, 1000), 50)
    assert len(thinned["coverage"]) <= 50 and thinned["coverage"][0] == 1.0
    assert np.all(np.diff(thinned["coverage"]) < 0)
    assert analysis.selective_accuracy(np.array([]), np.array([]))["coverage"] == []


def test_per_class_accuracy_and_confused_pairs_by_hand():
    labels = np.array([0, 0, 1, 1, 2, 2])
    predicted = {"a": np.array([0, 1, 1, 1, 1, 2]), "b": np.array([1, 1, 1, 0, 1, 2])}
    assert analysis.per_class_accuracy(labels, predicted["a"], THREE) == {
        "bird": 0.5,
        "cat": 1.0,
        "dog": 0.5,
    }
    assert analysis.per_class_accuracy(labels[:4], predicted["a"][:4], THREE)["dog"] is None
    pairs = analysis.confused_pairs(labels, predicted, THREE)
    assert pairs == [
        {"true": "bird", "predicted": "cat", "counts": {"a": 1, "b": 2}, "total": 3},
        {"true": "dog", "predicted": "cat", "counts": {"a": 1, "b": 1}, "total": 2},
        {"true": "cat", "predicted": "bird", "counts": {"a": 0, "b": 1}, "total": 1},
    ]
    assert len(analysis.confused_pairs(labels, predicted, THREE, top=1)) == 1


def test_ten_class_confused_pairs_are_at_most_twenty_most_first():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 2000)
    predicted = {"m": rng.integers(0, 10, 2000)}
    names = [f"c{i}" for i in range(10)]
    pairs = analysis.confused_pairs(labels, predicted, names)
    assert len(pairs) == 20 and all(p["true"] != p["predicted"] for p in pairs)
    totals = [p["total"] for p in pairs]
    assert totals == sorted(totals, reverse=True)
    counted = np.zeros((10, 10), int)
    np.add.at(counted, (labels, predicted["m"]), 1)
    np.fill_diagonal(counted, 0)
    assert totals[0] == counted.max() and totals[-1] == np.sort(counted.ravel())[-20]


def test_one_vs_rest_curves_per_class():
    labels = np.array([0, 0, 1, 1, 2, 2])
    p = np.array(
        [
            [0.8, 0.1, 0.1],
            [0.4, 0.5, 0.1],
            [0.3, 0.6, 0.1],
            [0.1, 0.8, 0.1],
            [0.2, 0.2, 0.6],
            [0.1, 0.1, 0.8],
        ]
    )
    curves = analysis.per_class_curves(labels, p, THREE)
    assert set(curves) == set(THREE)
    assert curves["bird"]["roc_auc"] == pytest.approx(1.0)
    # cat vs rest: scores 0.6, 0.8 against 0.1, 0.5, 0.2, 0.1: every pair ranked right
    assert curves["cat"]["roc_auc"] == pytest.approx(1.0)
    assert curves["dog"]["average_precision"] == pytest.approx(1.0)
    # a class no photo has gets no curve
    assert set(analysis.per_class_curves(labels[:4], p[:4], THREE)) == {"bird", "cat"}


@pytest.mark.parametrize("n_classes", [3, 10])
def test_analyze_an_n_class_run_read_from_its_folder(tmp_path, n_classes):
    frames = {"a": _random_frame(n_classes, 300, seed=1), "b": _random_frame(n_classes, 300, 1)}
    frames["b"] = frames["b"].drop(columns=[c for c in frames["b"] if c.startswith("logit:")])
    names = [f"c{i}" for i in range(n_classes)]
    run = _read_back_run(tmp_path, frames, names)
    result = analysis.analyze(run)
    assert result["class_names"] == names and result["models"] == ["a", "b"]
    a = result["per_model"]["a"]
    labels = frames["a"]["label"].to_numpy()
    right = frames["a"]["predicted"].to_numpy() == labels
    assert (a["n"], a["correct"]) == (300, int(right.sum()))
    assert "curves" not in a and set(a["curves_per_class"]) == set(names)
    assert "ece_positive" not in a["calibration"]["before"]
    p = probabilities_of(frames["a"], names)
    assert a["calibration"]["before"]["ece"] == pytest.approx(
        calibration.expected_calibration_error(labels, p)
    )
    assert a["selective"]["coverage"][0] == 1.0
    assert a["selective"]["accuracy"][0] == pytest.approx(right.mean())
    assert a["per_class_accuracy"]["c0"] == pytest.approx(right[labels == 0].mean())
    # b has no logit columns: its logits are log p, which softmax to the same p
    assert result["per_model"]["b"]["calibration"]["before"]["log_loss"] == pytest.approx(
        a["calibration"]["before"]["log_loss"]
    )
    assert result["agreement"]["matrix"][0][1] == 1.0
    assert result["confused_pairs"][0]["counts"]["a"] == result["confused_pairs"][0]["counts"]["b"]
    assert len(result["confused_pairs"]) <= 20
    assert run.suspects() is not None and len(run.suspects()) == result["suspects"]["count"]


def test_a_binary_run_gets_the_new_keys_too(tmp_path):
    p_dog = [0.92, 0.94, 0.30, 0.62, 0.02, 0.55]
    result = _analyzed(tmp_path, {"a": _frame(p_dog, [1, 0, 0, 1, 0, 0])})
    mine = result["per_model"]["a"]
    assert "curves" in mine and "curves_per_class" not in mine
    assert "ece_positive" in mine["calibration"]["before"]
    assert mine["per_class_accuracy"] == {"0": pytest.approx(2 / 4), "1": 1.0}
    assert mine["selective"]["coverage"][0] == 1.0
    assert result["confused_pairs"] == [
        {"true": "0", "predicted": "1", "counts": {"a": 2}, "total": 2}
    ]


def test_read_explanation_returns_the_n_class_kinds(tmp_path):
    file = tmp_path / "x.npz"
    np.savez_compressed(
        file,
        m__image=np.zeros((4, 4, 3), np.uint8),
        m__predicted=np.ones((4, 4), np.float16),
        m__true=np.zeros((4, 4), np.float16),
        m__classes=np.array([2, 0]),
    )
    stored = analysis.read_explanation(file)
    assert set(stored["m"]) == {"image", "predicted", "true", "classes"}
    assert stored["m"]["classes"].tolist() == [2, 0]
    assert stored["m"]["predicted"].dtype == np.float32
    assert stored["m"]["image"].dtype == np.uint8


def test_explain_photos_stores_predicted_and_true_class_maps_of_an_n_class_model(tmp_path):
    from pipeline.data.dataset import find_classes, list_files
    from pipeline.modeling import models
    from tests.imagefactory import write_class_folder

    names = ("Bird", "Cat", "Dog")
    root = write_class_folder(tmp_path / "data", n_per_class=1, size=40, names=names)
    samples = list_files(root, find_classes(root))
    run = _read_back_run(tmp_path / "run", {}, names)
    pd.DataFrame(
        {"path": [s.path for s in samples], "label": [s.label for s in samples], "split": "val"}
    ).to_csv(run.path / artifacts.SPLIT, index=False)
    model = models.build_cnn3(32, num_classes=3)
    count = analysis.explain_photos(run, str(root), [s.path for s in samples], models={"m": model})
    assert count == 3
    for sample in samples:
        stored = analysis.read_explanation(run.gradcam_of(sample.path))["m"]
        assert set(stored) == {"image", "predicted", "true", "classes"}
        assert stored["classes"][1] == sample.label and 0 <= stored["classes"][0] < 3
        assert stored["true"].shape == stored["predicted"].shape == (32, 32)
