"""Grad-CAM peaks where a synthetic model's evidence is, for dog and for cat, flat or nested."""

import keras
import numpy as np
import pandas as pd
import pytest

from pipeline.evaluation import gradcam
from pipeline.modeling import models

SIZE = 32


def _evidence_layers():
    """1x1 conv: channel 0 fires on bright pixels (dog evidence), channel 1 on dark (cat)."""
    conv = keras.layers.Conv2D(2, 1, name="evidence", activation="relu")
    dense = keras.layers.Dense(1, activation="sigmoid", name="head_output")
    return conv, dense


def _set_weights(conv, dense):
    kernel = np.zeros((1, 1, 3, 2), np.float32)
    kernel[..., 0], kernel[..., 1] = 1 / 3, -1 / 3
    conv.set_weights([kernel, np.array([-0.6, 0.4], np.float32)])
    dense.set_weights([np.array([[5.0], [-5.0]], np.float32), np.zeros(1, np.float32)])


def flat_model():
    conv, dense = _evidence_layers()
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="head_pool")(conv(x))
    model = keras.Model(inputs, dense(x))
    _set_weights(conv, dense)
    return model


def nested_model():
    conv, dense = _evidence_layers()
    base_in = keras.Input((SIZE, SIZE, 3))
    base = keras.Model(base_in, conv(keras.layers.Rescaling(1 / 255)(base_in)), name="base")
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.GlobalAveragePooling2D()(base(inputs))
    model = keras.Model(inputs, dense(keras.layers.Dropout(0.3)(x)))
    _set_weights(conv, dense)
    return model


def two_patch_image():
    image = np.full((1, SIZE, SIZE, 3), 0.5 * 255, np.float32)
    image[0, 2:10, 2:10] = 255.0  # bright: top left
    image[0, 22:30, 22:30] = 0.0  # dark: bottom right
    return image


def _peak(heat):
    return np.unravel_index(np.argmax(heat), heat.shape)


@pytest.mark.parametrize("build", [flat_model, nested_model])
def test_dog_map_peaks_on_bright_patch_and_cat_map_on_dark_patch(build):
    model, image = build(), two_patch_image()
    dog = gradcam.gradcam(model, image, "positive", "evidence")[0]
    cat = gradcam.gradcam(model, image, "negative", "evidence")[0]
    assert dog.shape == cat.shape == (SIZE, SIZE)
    assert dog.max() == pytest.approx(1.0) and cat.max() == pytest.approx(1.0)
    y, x = _peak(dog)
    assert 2 <= y < 10 and 2 <= x < 10
    y, x = _peak(cat)
    assert 22 <= y < 30 and 22 <= x < 30
    assert dog[26, 26] < 0.05 and cat[6, 6] < 0.05  # each class ignores the other's evidence


def test_the_naive_recipe_fails_on_a_nested_model_and_ours_does_not():
    model = nested_model()
    inner = model.get_layer("base").get_layer("evidence")
    with pytest.raises(ValueError):
        keras.Model(model.inputs, [inner.output, model.output])
    flat = gradcam.gradcam(flat_model(), two_patch_image(), "positive", "evidence")
    nested = gradcam.gradcam(model, two_patch_image(), "positive")
    np.testing.assert_allclose(nested, flat, atol=1e-5)


def test_a_confident_model_still_gets_a_map():
    model = flat_model()
    image = np.full((1, SIZE, SIZE, 3), 255.0, np.float32)  # all bright: P(dog) ~ 1
    assert float(model.predict_on_batch(image)[0, 0]) > 0.85
    heat = gradcam.gradcam(model, image, "positive", "evidence")
    assert np.isfinite(heat).all() and heat.max() == pytest.approx(1.0)


@pytest.mark.parametrize(
    "build, layer",
    [
        (lambda: models.build_cnn3(48), "relu3"),
        (lambda: models.build_cnn4(48), "relu4"),
        (lambda: models.build_mobilenetv2(64, None), "out_relu"),
    ],
)
def test_every_project_model_has_a_target_layer_and_a_map(build, layer):
    model = build()
    assert gradcam.target_layer(model) == layer
    size = model.input_shape[1]
    images = np.random.default_rng(0).uniform(0, 255, (2, size, size, 3)).astype(np.float32)
    heat = gradcam.gradcam(model, images, "negative")
    assert heat.shape == (2, size, size) and np.isfinite(heat).all()
    assert heat.min() >= 0 and heat.max() <= 1 + 1e-6


def test_overlay_keeps_size_and_type():
    image = np.zeros((8, 8, 3), np.uint8)
    heat = np.linspace(0, 1, 64).reshape(8, 8)
    out = gradcam.overlay(image, heat)
    assert out.shape == (8, 8, 3) and out.dtype == np.uint8
    assert out[-1, -1, 0] > out[0, 0, 0]  # hot corner is red


def test_unknown_target_is_refused():
    with pytest.raises(ValueError, match="target"):
        gradcam.gradcam(flat_model(), two_patch_image(), "dog")


def test_one_backward_pass_gives_both_maps_as_two_would():
    model, image = flat_model(), two_patch_image()
    import tensorflow as tf

    pair = gradcam.gradcam_pair(model, image, "evidence")
    # The cat map the long way: its own backward pass through -z.
    head = model.get_layer("head_output")
    forward = keras.Model(model.inputs, [model.get_layer("evidence").output, head.input])
    with tf.GradientTape() as tape:
        acts, features = forward(image)
        score = -tf.reduce_sum(tf.matmul(features, head.kernel) + head.bias)
    weights = tf.reduce_mean(tape.gradient(score, acts), axis=(1, 2), keepdims=True)
    cam = tf.nn.relu(tf.reduce_sum(weights * acts, axis=-1)).numpy()[0]
    expected = tf.image.resize((cam / cam.max())[..., None], (SIZE, SIZE))[..., 0].numpy()
    np.testing.assert_allclose(pair["negative"][0], expected, atol=1e-5)
    assert np.argmax(pair["positive"]) != np.argmax(pair["negative"])


def test_models_without_a_spatial_layer_are_not_explainable():
    inputs = keras.Input((8, 8, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(inputs)
    opaque = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(pooled))
    assert not gradcam.explainable(opaque)
    assert gradcam.explainable(flat_model()) and gradcam.explainable(nested_model())


def test_rescaling_alone_is_not_a_layer_to_explain():
    """A user's model that only rescales the pixels before pooling: nothing to explain
    (its gradients would be of the input), so the analysis leaves it out, not crashes."""
    inputs = keras.Input((8, 8, 3))
    scaled = keras.layers.Rescaling(1 / 255)(inputs)
    pooled = keras.layers.GlobalAveragePooling2D()(scaled)
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(pooled))
    assert not gradcam.explainable(model)


# --- N classes -------------------------------------------------------------------------


def _colour_layers():
    """1x1 conv: channel c fires on pure colour c (red, green, blue), not on grey; the
    3-way softmax head reads channel c as evidence for class c."""
    conv = keras.layers.Conv2D(3, 1, name="evidence", activation="relu")
    dense = keras.layers.Dense(3, activation="softmax", name="head_output")
    return conv, dense


def _set_colour_weights(conv, dense):
    kernel = np.full((1, 1, 3, 3), -0.5, np.float32)
    for c in range(3):
        kernel[0, 0, c, c] = 1.0
    conv.set_weights([kernel, np.zeros(3, np.float32)])
    dense.set_weights([5 * np.eye(3, dtype=np.float32), np.zeros(3, np.float32)])


def three_class_model(nested: bool = False):
    conv, dense = _colour_layers()
    if nested:
        base_in = keras.Input((SIZE, SIZE, 3))
        base = keras.Model(base_in, conv(keras.layers.Rescaling(1 / 255)(base_in)), name="base")
        inputs = keras.Input((SIZE, SIZE, 3))
        x = base(inputs)
    else:
        inputs = keras.Input((SIZE, SIZE, 3))
        x = conv(keras.layers.Rescaling(1 / 255)(inputs))
    model = keras.Model(inputs, dense(keras.layers.GlobalAveragePooling2D()(x)))
    _set_colour_weights(conv, dense)
    return model


PATCHES = {0: (slice(2, 8), slice(2, 8)), 1: (slice(22, 30), slice(22, 30))}
PATCHES[2] = (slice(2, 14), slice(18, 30))  # blue: the largest, so the predicted class


def three_patch_image():
    image = np.full((1, SIZE, SIZE, 3), 0.5 * 255, np.float32)
    for c, (rows, cols) in PATCHES.items():
        image[0, rows, cols] = 0.0
        image[0, rows, cols, c] = 255.0
    return image


def _inside(heat, c) -> bool:
    y, x = _peak(heat)
    rows, cols = PATCHES[c]
    return rows.start <= y < rows.stop and cols.start <= x < cols.stop


@pytest.mark.parametrize("nested", [False, True])
def test_each_class_map_peaks_on_that_class_colour(nested):
    model, image = three_class_model(nested), three_patch_image()
    assert gradcam.explainable(model) and not gradcam.is_binary(model)
    for c in range(3):
        heat = gradcam.gradcam_classes(model, image, np.array([c]))[0]
        assert heat.shape == (SIZE, SIZE) and heat.max() == pytest.approx(1.0)
        assert _inside(heat, c)
        np.testing.assert_allclose(gradcam.gradcam(model, image, c), heat[None], atol=1e-6)


def test_explain_maps_of_an_n_class_model_are_its_predicted_and_true_class():
    model, image = three_class_model(), three_patch_image()
    assert int(np.argmax(model.predict_on_batch(image))) == 2
    images = np.concatenate([image, image])
    maps = gradcam.explain_maps(model, images, np.array([0, -1]))
    assert set(maps) == {"predicted", "true", gradcam.CLASSES}
    assert maps[gradcam.CLASSES].tolist() == [[2, 0], [2, -1]]
    assert _inside(maps["predicted"][0], 2) and _inside(maps["true"][0], 0)
    assert np.all(maps["true"][1] == 0)  # no label, no map
    with pytest.raises(ValueError, match="two-class"):
        gradcam.gradcam_pair(model, image)


def test_explain_maps_of_a_binary_model_are_the_pair_unchanged():
    model, image = flat_model(), two_patch_image()
    maps = gradcam.explain_maps(model, image, np.array([1]))
    pair = gradcam.gradcam_pair(model, image)
    assert set(maps) == set(gradcam.TARGETS)
    for target in gradcam.TARGETS:
        np.testing.assert_array_equal(maps[target], pair[target])
    np.testing.assert_array_equal(gradcam.gradcam(model, image, 1), pair["positive"])
    np.testing.assert_array_equal(gradcam.gradcam(model, image, 0), pair["negative"])


def test_ten_class_maps_are_the_gradient_of_the_chosen_pre_softmax_logit():
    import tensorflow as tf

    model = models.build_cnn3(32, num_classes=10)
    images = np.random.default_rng(0).uniform(0, 255, (3, 32, 32, 3)).astype(np.float32)
    classes = np.array([0, 4, 9])
    heat = gradcam.gradcam_classes(model, images, classes)
    assert heat.shape == (3, 32, 32) and heat.min() >= 0 and heat.max() <= 1 + 1e-6
    # The long way, one photo: the gradient of logit 4 (kernel column 4 plus its bias).
    head = model.layers[-1]
    layer = model.get_layer(gradcam.target_layer(model))
    forward = keras.Model(model.inputs, [layer.output, head.input])
    with tf.GradientTape() as tape:
        acts, features = forward(images[1:2])
        score = tf.reduce_sum(tf.matmul(features, head.kernel[:, 4:5]) + head.bias[4])
    weights = tf.reduce_mean(tape.gradient(score, acts), axis=(1, 2), keepdims=True)
    cam = tf.nn.relu(tf.reduce_sum(weights * acts, axis=-1)).numpy()[0]
    cam = cam / cam.max() if cam.max() > 0 else cam
    expected = tf.image.resize(cam[..., None], (32, 32))[..., 0].numpy()
    np.testing.assert_allclose(heat[1], expected, atol=1e-5)
    maps = gradcam.explain_maps(model, images, classes)
    predicted = np.argmax(model.predict_on_batch(images), axis=1)
    assert maps[gradcam.CLASSES][:, 0].tolist() == predicted.tolist()
    assert maps[gradcam.CLASSES][:, 1].tolist() == classes.tolist()
    np.testing.assert_allclose(maps["true"], heat, atol=1e-6)


# --- the Ray engine's Grad-CAM job (its actor and its run-level wrapper, without a cluster)


def test_the_ray_explainer_gives_the_maps_explain_maps_gives(tmp_path):
    from pipeline.distributed import ray_photos
    from tests.imagefactory import photo

    model = models.build_cnn3(32, num_classes=3)
    model.save(tmp_path / "m.keras")
    files = []
    for i in range(2):
        photo(40, 40, seed=i).save(tmp_path / f"{i}.jpg")
        files.append(str(tmp_path / f"{i}.jpg"))
    batch = {"row": np.arange(2), "path": np.array(files), "label": np.array([2, 0])}
    out = ray_photos.Explainer(str(tmp_path / "m.keras"))(batch)
    assert {"map_predicted", "map_true", "map_classes"} <= set(out)
    assert out["map_classes"][:, 1].tolist() == [2, 0] and out["map_true"].dtype == np.float16
    here = gradcam.explain_maps(model, out["image"].astype(np.float32), np.array([2, 0]))
    np.testing.assert_allclose(out["map_true"], here["true"], atol=2e-3)


def test_explain_run_passes_the_true_labels_and_keys_the_maps(tmp_path, monkeypatch):
    from pipeline.distributed import ray_photos
    from pipeline.store import artifacts

    run = artifacts.Run(tmp_path, {"run_id": "r", "models": [{"name": "m", "file": "m.keras"}]})
    pd.DataFrame({"path": ["a.jpg", "b.jpg"], "label": [2, 1]}).to_csv(
        tmp_path / artifacts.SPLIT, index=False
    )
    seen = {}

    def fake_explain(cluster, model_paths, photos, progress=None, *, labels=None):
        seen["labels"] = labels
        maps = {"image": np.zeros(1), "predicted": np.ones(1), "classes": np.array([0, 2])}
        return {"m": {"a.jpg": maps, "b.jpg": {"image": np.zeros(1)}}}

    monkeypatch.setattr(ray_photos, "explain", fake_explain)
    arrays = ray_photos.explain_run(None, run, str(tmp_path), ["a.jpg", "b.jpg"])
    assert seen["labels"] == {"a.jpg": 2, "b.jpg": 1}
    assert set(arrays["a.jpg"]) == {"m__image", "m__predicted", "m__classes"}
    assert arrays["b.jpg"] == {}  # a model Grad-CAM cannot explain gives no maps
