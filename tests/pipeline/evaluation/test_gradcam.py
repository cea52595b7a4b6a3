"""Grad-CAM peaks where a synthetic model's evidence is, for dog and for cat, flat or nested."""

import keras
import numpy as np
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
