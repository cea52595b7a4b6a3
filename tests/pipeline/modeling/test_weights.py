"""The three weight sources: Keras ImageNet download, a local file, a TF Hub model."""

import hashlib

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf

from pipeline.errors import PipelineError
from pipeline.modeling import models, saved_models
from pipeline.modeling.weights import imagenet_filename, resolve_weights


def test_imagenet_weights_download_through_keras_from_a_file_url(
    tmp_path, monkeypatch, shared_weights
):
    """Serve a Keras-Applications-format (legacy .h5) file, as the real download is."""
    from keras.src.legacy.saving import legacy_h5_format

    reference = keras.applications.MobileNetV2(
        (96, 96, 3), include_top=False, weights=str(shared_weights)
    )
    server = tmp_path / "server"
    server.mkdir()
    with h5py.File(server / imagenet_filename(96), "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, reference)

    source = resolve_weights("imagenet", 96, server.as_uri() + "/", str(tmp_path / "cache"))
    assert source.kind == "imagenet"
    assert source.path == str(tmp_path / "cache" / "models" / imagenet_filename(96))
    assert (
        source.sha256 == hashlib.sha256((server / imagenet_filename(96)).read_bytes()).hexdigest()
    )
    model = models.build_mobilenetv2(96, source)
    np.testing.assert_array_equal(
        model.get_layer("Conv_1").get_weights()[0], reference.get_layer("Conv_1").get_weights()[0]
    )


def test_unreachable_imagenet_download_says_what_to_do(tmp_path):
    with pytest.raises(PipelineError, match="--weights PATH"):
        resolve_weights("imagenet", 160, (tmp_path / "nowhere").as_uri() + "/", str(tmp_path))


def test_local_weights_file_is_recorded_with_its_checksum(shared_weights):
    source = resolve_weights(str(shared_weights), 160, "unused")
    assert source.kind == "file"
    assert source.sha256 == "b5c304ecf01494f614fd05d36a075cb14f45d054af9af5ef17092bbf870e8e2f"
    with pytest.raises(PipelineError, match="does not exist"):
        resolve_weights("no/such/file.h5", 160, "unused")


class TinyFeatureVector(tf.Module):
    """A stand-in Hub image feature-vector model: mean colour and brightness."""

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])
    def __call__(self, images):
        means = tf.reduce_mean(images, axis=[1, 2])
        return tf.concat([means, tf.reduce_mean(means, axis=1, keepdims=True)], axis=1)


def test_hub_saved_model_works_as_a_frozen_base_and_round_trips(tmp_path):
    folder = tmp_path / "hub_model"
    tf.saved_model.save(TinyFeatureVector(), str(folder))
    source = resolve_weights(f"hub:{folder}", 64, "unused")
    assert source.kind == "hub" and len(source.sha256) == 64
    model = models.build_mobilenetv2(64, source)
    assert models.is_hub_model(model) and models.trainable_params(model) == 4 + 1
    x = np.full((2, 64, 64, 3), 255.0, np.float32)
    path = tmp_path / "m.keras"
    model.save(path)
    again = saved_models.load(path)
    np.testing.assert_allclose(again.predict_on_batch(x), model.predict_on_batch(x), atol=1e-6)
    with pytest.raises(PipelineError, match="SavedModel"):
        resolve_weights(f"hub:{tmp_path}", 64, "unused")
