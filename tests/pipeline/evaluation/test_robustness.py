"""Corruptions with known answers, and the robustness analysis on a real run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from pipeline.data.images import resize_for_model
from pipeline.evaluation import robustness
from pipeline.evaluation.robustness_eval import evaluate_robustness, resize_gaps
from tests.imagefactory import photo

SIZE = (64, 64)


@pytest.fixture
def image() -> Image.Image:
    """A colour photo with fine detail (fur, edges), which blur and resizing act on."""
    smooth = np.asarray(photo(120, 100, seed=3), dtype=np.float32)
    detail = np.random.default_rng(3).normal(0, 25, smooth.shape)
    return Image.fromarray((smooth + detail).clip(0, 255).astype(np.uint8))


def _pixels(image: Image.Image, name: str, severity: int) -> np.ndarray:
    return robustness.model_input(image, name, severity, SIZE).astype(int)


@pytest.mark.parametrize("name", ["clean"] + [c.name for c in robustness.CORRUPTIONS])
def test_severity_zero_is_the_clean_photo(image, name):
    assert np.array_equal(_pixels(image, name, 0), resize_for_model(image, SIZE))


@pytest.mark.parametrize("name", [c.name for c in robustness.CORRUPTIONS])
def test_every_corruption_changes_a_colour_photo(image, name):
    assert np.abs(_pixels(image, name, 1) - _pixels(image, name, 0)).mean() > 0.2


@pytest.mark.parametrize(
    "name", [c.name for c in robustness.CORRUPTIONS if len(c.levels) > 1 and c.name != "noise"]
)
def test_a_higher_severity_changes_more(image, name):
    clean = _pixels(image, name, 0)
    mild, strong = (np.abs(_pixels(image, name, s) - clean).mean() for s in (1, 2))
    assert strong > mild


def test_noise_is_seeded_and_grows_with_severity(image):
    clean = np.asarray(image, dtype=int)
    one = np.asarray(robustness.corrupt(image, "noise", 1, seed=5), dtype=int)
    again = np.asarray(robustness.corrupt(image, "noise", 1, seed=5), dtype=int)
    strong = np.asarray(robustness.corrupt(image, "noise", 2, seed=5), dtype=int)
    assert np.array_equal(one, again)
    assert np.abs(strong - clean).std() > np.abs(one - clean).std()


def test_grayscale_of_a_grayscale_photo_changes_nothing(image):
    gray = image.convert("L").convert("RGB")
    assert np.array_equal(_pixels(gray, "grayscale", 1), _pixels(gray, "grayscale", 0))


def test_tensorflow_resize_is_the_identity_at_the_same_size_and_aliases_when_shrinking():
    same = photo(*SIZE, seed=1)
    assert np.array_equal(robustness.tf_resize(same, SIZE), np.asarray(same))
    noise = np.random.default_rng(0).integers(0, 256, (128, 128, 3), dtype=np.uint8)
    image = Image.fromarray(noise)  # pure detail: antialiasing averages it away, sampling not
    pillow = resize_for_model(image, (32, 32)).astype(float)
    tf = robustness.tf_resize(image, (32, 32)).astype(float)
    assert tf.std() > 1.5 * pillow.std()


def test_summary_counts_accuracy_changes_and_flips():
    labels = np.array([1, 1, 0, 0])
    predicted = {
        ("clean", 0): np.array([1, 1, 0, 1]),  # 3/4
        ("jpeg", 1): np.array([1, 0, 0, 1]),  # flips photo 1
        ("jpeg", 2): np.array([0, 0, 1, 0]),
    }
    summary = robustness.summarize(labels, predicted)
    rows = {(r["corruption"], r["severity"]): r for r in summary["rows"]}
    assert rows[("clean", 0)]["accuracy"] == 0.75 and rows[("clean", 0)]["changed"] == 0
    assert rows[("jpeg", 1)]["accuracy"] == 0.5 and rows[("jpeg", 1)]["changed"] == 1
    assert rows[("jpeg", 2)]["level"] == 10 and rows[("jpeg", 2)]["changed"] == 4
    assert rows[("jpeg", 1)]["low"] < 0.5 < rows[("jpeg", 1)]["high"]
    assert summary["flips"] == {"jpeg": [1]}


def test_the_subset_is_seeded_and_keeps_the_class_balance():
    paths = [f"p{i:03d}" for i in range(100)]
    labels = [1] * 30 + [0] * 70
    chosen = robustness.pick_photos(paths, labels, 20, seed=7)
    assert chosen == robustness.pick_photos(paths, labels, 20, seed=7)
    assert len(chosen) == 20 and sum(labels[i] for i in chosen) == 6
    assert len(robustness.pick_photos(paths, labels, 500, seed=7)) == 100


@pytest.mark.integration
def test_robustness_of_a_real_run_agrees_with_its_predictions(real_run, shared_data, tmp_path):
    import shutil

    from pipeline.modeling import saved_models
    from pipeline.store import artifacts

    # A copy: the session's run keeps the robustness.json its manifest recorded.
    copy = tmp_path / artifacts.RUNS / real_run.path.name
    shutil.copytree(real_run.path, copy)
    real_run = artifacts.read_run(copy)
    models = {n: saved_models.load(real_run.model_path(n)) for n in real_run.model_names()}
    result = evaluate_robustness(real_run, str(shared_data), models, n_photos=40)
    assert real_run.robustness()["photos"] == result["photos"] and len(result["photos"]) == 40
    labels = np.array(result["labels"])
    for name in real_run.model_names():
        stored = real_run.predictions(name).set_index("path").loc[result["photos"]]
        clean = np.array(result["answers"][name]["clean:0"])
        assert np.abs(clean - stored.p_dog.to_numpy()).max() < 1e-4  # the same pixels
        assert np.array_equal(stored.label.to_numpy(), labels)
        rows = result["models"][name]["rows"]
        assert len(rows) == len(robustness.conditions())
        assert {r["corruption"] for r in rows} == {"clean"} | set(robustness.BY_NAME)
    gaps = resize_gaps(result)
    assert set(gaps) == set(real_run.model_names())
    assert all(g["photos"] == 40 for g in gaps.values())


@pytest.mark.integration
def test_the_resize_gap_on_every_validation_photo_matches_a_direct_computation(
    real_run, shared_data, tmp_path
):
    import shutil

    from pipeline.data.images import load_rgb
    from pipeline.evaluation.robustness_eval import resize_gap_all
    from pipeline.modeling import saved_models
    from pipeline.store import artifacts

    copy = tmp_path / artifacts.RUNS / real_run.path.name
    shutil.copytree(real_run.path, copy)
    run = artifacts.read_run(copy)
    model = saved_models.load(run.model_path("cnn3"))
    result = resize_gap_all(run, str(shared_data), {"cnn3": model}, batch=7)
    assert run.resize_gap() == result
    gap = result["models"]["cnn3"]
    val = run.split().query("split == 'val'").sort_values("path")
    assert gap["photos"] == len(val)
    assert gap["pillow"] == pytest.approx(run.model_record("cnn3")["metrics"]["accuracy"])
    size = model.input_shape[1:3]
    pixels = [robustness.tf_resize(load_rgb(shared_data / p).image, size) for p in val.path]
    p_tf = model.predict(np.stack(pixels).astype(np.float32), verbose=0).reshape(-1)
    tf_right = (p_tf >= 0.5).astype(int) == val.label.to_numpy()
    assert gap["tensorflow"] == pytest.approx(tf_right.mean())
    assert gap["points"] == pytest.approx((gap["pillow"] - gap["tensorflow"]) * 100)
    assert 0 <= gap["p_value"] <= 1


# --- N classes -------------------------------------------------------------------------


@pytest.mark.parametrize("n_classes", [3, 10])
def test_the_subset_keeps_the_proportions_of_every_class(n_classes):
    labels = [i % n_classes for i in range(40 * n_classes)]
    labels += [0] * (40 * n_classes)  # class 0 holds half the photos
    paths = [f"p{i:04d}" for i in range(len(labels))]
    n = 20 * n_classes
    chosen = robustness.pick_photos(paths, labels, n, seed=3)
    assert chosen == robustness.pick_photos(paths, labels, n, seed=3)
    assert len(chosen) == n and len(set(chosen)) == n
    counts = np.bincount([labels[i] for i in chosen], minlength=n_classes)
    share = np.bincount(labels, minlength=n_classes) / len(labels)
    np.testing.assert_array_equal(counts, np.round(n * share))
    assert [paths[i] for i in chosen] == sorted(paths[i] for i in chosen)


def _colour_model(size: int, n_classes: int):
    """Mean brightness -> n classes: a tiny softmax model whose answer depends on the pixels."""
    import keras

    inputs = keras.Input((size, size, 3))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Rescaling(1 / 255)(inputs))
    dense = keras.layers.Dense(n_classes, activation="softmax", name="head_output")
    model = keras.Model(inputs, dense(x))
    kernel = np.tile(np.linspace(-6, 6, n_classes, dtype=np.float32), (3, 1))
    bias = -(np.linspace(-6, 6, n_classes, dtype=np.float32) ** 2) / 4
    dense.set_weights([kernel, bias])
    return model


def _n_class_run(tmp_path, names, model):
    from pipeline.data.dataset import find_classes, list_files
    from pipeline.data.images import load_model_input
    from pipeline.store import artifacts
    from pipeline.store.predictions import prediction_frame
    from tests.imagefactory import write_class_folder

    root = write_class_folder(tmp_path / "data", n_per_class=3, size=40, names=names)
    samples = list_files(root, find_classes(root))
    paths, labels = [s.path for s in samples], np.array([s.label for s in samples])
    run_dir = tmp_path / "run"
    manifest = {
        "schema_version": 2,
        "run_id": "synthetic",
        "config": {"seed": 0},
        "dataset": {"class_names": list(names)},
        "models": [{"name": "m", "metrics": {}, "params": 1}],
    }
    artifacts.write_json(run_dir / artifacts.MANIFEST, manifest)
    pd.DataFrame({"path": paths, "label": labels, "split": "val"}).to_csv(
        run_dir / artifacts.SPLIT, index=False
    )
    pixels = np.stack([load_model_input(root / p, (32, 32)) for p in paths]).astype(np.float32)
    p = model.predict_on_batch(pixels)
    (run_dir / artifacts.MODELS / "m").mkdir(parents=True)
    frame = prediction_frame(
        paths=paths, labels=labels, probabilities=p, logits=np.log(p), class_names=list(names)
    )
    frame.to_csv(run_dir / artifacts.MODELS / "m" / artifacts.PREDICTIONS, index=False)
    return artifacts.read_run(run_dir), root, p


def test_robustness_of_a_three_class_model_predicts_the_argmax(tmp_path):
    from pipeline.evaluation.robustness_eval import resize_gap_all

    names = ("Bird", "Cat", "Dog")
    model = _colour_model(32, 3)
    run, root, p = _n_class_run(tmp_path, names, model)
    result = evaluate_robustness(run, str(root), {"m": model}, n_photos=9)
    assert len(result["photos"]) == 9 and sorted(set(result["labels"])) == [0, 1, 2]
    order = [run.predictions("m").path.tolist().index(path) for path in result["photos"]]
    clean = np.array(result["answers"]["m"]["clean:0"])
    assert clean.shape == (9, 3)  # every class's probability per photo
    np.testing.assert_allclose(clean, p[order], atol=1e-4)
    rows = {(r["corruption"], r["severity"]): r for r in result["models"]["m"]["rows"]}
    right = p[order].argmax(axis=1) == np.array(result["labels"])
    assert rows[("clean", 0)]["accuracy"] == pytest.approx(right.mean())
    dark = np.array(result["answers"]["m"]["brightness:2"]).argmax(axis=1)
    assert rows[("brightness", 2)]["accuracy"] == pytest.approx(
        np.mean(dark == np.array(result["labels"]))
    )
    gap = resize_gap_all(run, str(root), {"m": model})["models"]["m"]
    stored = run.predictions("m")
    assert gap["photos"] == 9
    assert gap["pillow"] == pytest.approx(np.mean(stored.predicted == stored.label))
    assert 0 <= gap["p_value"] <= 1


def test_robustness_answers_of_a_ten_class_model(tmp_path):
    names = tuple(f"c{i}" for i in range(10))
    model = _colour_model(32, 10)
    run, root, p = _n_class_run(tmp_path, names, model)
    result = evaluate_robustness(run, str(root), {"m": model}, n_photos=30)
    clean = np.array(result["answers"]["m"]["clean:0"])
    assert clean.shape == (30, 10) and np.allclose(clean.sum(axis=1), 1, atol=1e-3)
    rows = {(r["corruption"], r["severity"]): r for r in result["models"]["m"]["rows"]}
    assert rows[("clean", 0)]["accuracy"] == pytest.approx(
        np.mean(clean.argmax(axis=1) == np.array(result["labels"]))
    )
    assert set(resize_gaps(result)) == {"m"}
