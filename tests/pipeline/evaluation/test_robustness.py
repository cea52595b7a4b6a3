"""Corruptions with known answers, and the robustness analysis on a real run."""

from __future__ import annotations

import numpy as np
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
