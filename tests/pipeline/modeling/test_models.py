import keras
import numpy as np
import pytest

from pipeline.modeling import models, saved_models


@pytest.fixture(scope="module")
def mobilenet():
    return models.build_mobilenetv2(96, weights=None)


@pytest.mark.parametrize("name, convs", [("cnn3", 3), ("cnn4", 4)])
def test_cnn_builders_output_one_probability_per_image(name, convs):
    model = models.CNN_BUILDERS[name](64)
    x = np.random.default_rng(0).uniform(0, 255, (3, 64, 64, 3)).astype("float32")
    p = model.predict_on_batch(x)
    assert p.shape == (3, 1) and np.all((p >= 0) & (p <= 1))
    assert [layer.name for layer in model.layers if "conv" in layer.name] == [
        f"conv{i}" for i in range(1, convs + 1)
    ]
    bn_moving_stats = sum(2 * f for f in (32, 64, 128, 256)[1:convs])
    assert models.trainable_params(model) == model.count_params() - bn_moving_stats


@pytest.mark.parametrize("name, last", [("cnn3", "pool3"), ("cnn4", "pool4")])
def test_max_pool_head_reads_each_features_mean_and_maximum(name, last):
    model = models.CNN_BUILDERS[name](48, dropout=0.0, width=8, max_pool=True)
    x = np.random.default_rng(2).uniform(0, 255, (3, 48, 48, 3)).astype("float32")
    maps = np.asarray(keras.Model(model.inputs, model.get_layer(last).output)(x), np.float64)
    features = np.concatenate([maps.mean(axis=(1, 2)), maps.max(axis=(1, 2))], axis=1)
    kernel, bias = model.get_layer("head_output").get_weights()
    expected = 1 / (1 + np.exp(-(features @ kernel + bias)))
    np.testing.assert_allclose(model.predict_on_batch(x), expected, rtol=1e-4, atol=1e-6)
    assert model.get_layer("head_pool").output.shape == (None, 2 * maps.shape[-1])
    plain = models.CNN_BUILDERS[name](48, width=8)
    assert plain.get_layer("head_pool").output.shape == (None, maps.shape[-1])
    assert model.count_params() == plain.count_params() + maps.shape[-1]


def test_frozen_mobilenet_trains_only_its_head(mobilenet):
    assert mobilenet.output_shape == (None, 1)
    assert models.trainable_params(mobilenet) == 1280 + 1
    assert len(models.base_layers(mobilenet)) == 153  # Keras MobileNetV2 1.0, no top, no input


def test_unfreezing_the_last_30_layers_keeps_batchnorm_frozen():
    model = models.build_mobilenetv2(96, weights=None)
    names = models.unfreeze_top(model, 30)
    assert names[0] == "block_13_project_BN" and names[-1] == "out_relu"
    bn = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert not any(layer.trainable for layer in bn)
    expected = (
        sum(
            int(np.prod(w.shape))
            for layer in models.base_layers(model)[-30:]
            if not isinstance(layer, keras.layers.BatchNormalization)
            for w in layer.weights
        )
        + 1281
    )
    assert models.trainable_params(model) == expected
    assert 1281 < expected < model.count_params()


def test_saved_models_reload_in_safe_mode_with_identical_outputs(tmp_path, mobilenet):
    x = np.random.default_rng(1).uniform(0, 255, (2, 96, 96, 3)).astype("float32")
    for model in (models.build_cnn3(96), mobilenet):
        path = tmp_path / f"{model.name}.keras"
        model.save(path, include_optimizer=False)
        again = saved_models.load(path)
        np.testing.assert_allclose(again.predict_on_batch(x), model.predict_on_batch(x), atol=1e-6)
        assert not any(isinstance(layer, keras.layers.Lambda) for layer in again.layers)


def test_models_normalize_inside(mobilenet):
    """Raw 0-255 pixels go in; the first layer after the input rescales them."""
    assert models.build_cnn3(64).layers[1].name == "rescale"
    assert mobilenet.layers[1].name == "mobilenet_preprocess"


def test_augmentation_keeps_shape_and_changes_pixels():
    x = np.random.default_rng(2).uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    y = keras.ops.convert_to_numpy(models.augmentation(seed=1)(x, training=True))
    assert y.shape == x.shape and not np.allclose(x, y)


def test_cnn_width_sets_the_first_conv_and_each_later_one_doubles():
    model = models.build_cnn4(32, width=12)
    filters = [model.get_layer(f"conv{i}").filters for i in range(1, 5)]
    assert filters == [12, 24, 48, 96]
    assert [models.build_cnn3(32, width=12).get_layer(f"conv{i}").filters for i in (1, 2, 3)] == [
        12,
        24,
        48,
    ]
