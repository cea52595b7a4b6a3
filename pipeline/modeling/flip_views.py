"""Test-time flip averaging that lives in the model file itself.

A CNN built with these two layers scores every photo and its left-right mirror
image and averages the two pooled feature vectors before its final Dense(1).
The Dense is linear, so that is exactly the mean of the two logits, and the
model still ends in the one sigmoid unit that evaluation and Grad-CAM read.

In training both layers are the identity (the training data is already
flipped at random), so training costs nothing more; at inference the batch is
doubled. Because the model does it, `evaluate`, the dashboard, the robustness
analysis and anyone loading the .keras file get the same averaged answer.
"""

from __future__ import annotations

import keras
import numpy as np

VIEWS = 2


@keras.saving.register_keras_serializable(package="pipeline")
class FlipViews(keras.layers.Layer):
    """Inference: (n, h, w, c) -> (2n, h, w, c), the photos then their mirror images."""

    def call(self, images, training=None):
        if training:
            return images
        return keras.ops.concatenate([images, keras.ops.flip(images, axis=2)], axis=0)

    def compute_output_shape(self, input_shape):
        return (None, *input_shape[1:])


@keras.saving.register_keras_serializable(package="pipeline")
class MeanOfViews(keras.layers.Layer):
    """Inference: (2n, d) -> (n, d), the mean of each photo's row and its mirror's row."""

    def call(self, features, training=None):
        if training:
            return features
        stacked = keras.ops.reshape(features, (VIEWS, -1, *features.shape[1:]))
        return keras.ops.mean(stacked, axis=0)

    def compute_output_shape(self, input_shape):
        return (None, *input_shape[1:])


def view_count(model: keras.Model) -> int:
    """How many rows the model's inner activations have per input photo: 2 or 1."""
    return VIEWS if any(isinstance(layer, FlipViews) for layer in model.layers) else 1


def merge_maps(maps: np.ndarray, views: int) -> np.ndarray:
    """(views*n, h, w) spatial maps -> (n, h, w): mirror maps flipped back, then averaged."""
    if views == 1:
        return maps
    maps = np.asarray(maps)
    n = len(maps) // views
    return (maps[:n] + maps[n:, :, ::-1]) / 2
