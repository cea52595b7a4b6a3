"""Grad-CAM: where in the photo a model found its evidence for "dog" or for "cat".

Every model here ends in one sigmoid unit, so there is one score z (the logit)
with P(dog) = sigmoid(z). The evidence for dog is the gradient of z; the
evidence for cat is the gradient of -z (the gradient of 1 - P(dog) points the
same way but vanishes when the model is confident, so the logit is used).

Our models are flat graphs, so the last convolutional activation is an output
of the model's own graph. Models with the backbone nested as one layer (the
keras.io transfer-learning recipe) make `keras.Model(model.input,
inner_layer.output)` fail ("Graph disconnected", tensorflow/tensorflow#44462);
for those, the outer layers are replayed around the nested model instead.
"""

from __future__ import annotations

import keras
import numpy as np

from pipeline.modeling import flip_views

TARGETS = ("positive", "negative")
_SKIP = (
    keras.layers.MaxPooling2D,
    keras.layers.AveragePooling2D,
    keras.layers.GlobalAveragePooling2D,
    keras.layers.Dropout,
)


def _spatial_layers(model: keras.Model) -> list[keras.Layer]:
    found = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            found += _spatial_layers(layer)
        elif not isinstance(layer, (*_SKIP, keras.layers.InputLayer)):
            shape = getattr(layer, "output", None)
            if shape is not None and len(layer.output.shape) == 4:
                found.append(layer)
    return found


def target_layer(model: keras.Model) -> str:
    """The last layer with a spatial (4-D) output that is not pooling: relu4, out_relu, ..."""
    layers = _spatial_layers(model)
    if not layers:
        raise ValueError(f"{model.name} has no convolutional layer to explain")
    return layers[-1].name


def explainable(model: keras.Model) -> bool:
    """Whether Grad-CAM applies: a spatial layer to explain and a Dense(1) head.

    A TensorFlow Hub base is one opaque layer with a pooled output, so it has none.
    """
    head = model.layers[-1]
    return bool(_spatial_layers(model)) and isinstance(head, keras.layers.Dense) and head.units == 1


def _head(model: keras.Model) -> keras.layers.Dense:
    head = model.layers[-1]
    if not isinstance(head, keras.layers.Dense) or head.units != 1:
        raise ValueError("Grad-CAM here expects a model ending in Dense(1)")
    return head


def _nested_owner(model: keras.Model, name: str) -> keras.Model | None:
    for layer in model.layers:
        if isinstance(layer, keras.Model) and any(sub.name == name for sub in layer.layers):
            return layer
    return None


def _activations_and_head_input(model: keras.Model, layer_name: str):
    """A callable images -> (activations of `layer_name`, input of the final Dense)."""
    head = _head(model)
    owner = _nested_owner(model, layer_name)
    if owner is None:
        return keras.Model(model.inputs, [model.get_layer(layer_name).output, head.input])
    inner = keras.Model(owner.inputs, [owner.get_layer(layer_name).output, owner.output])

    def replay(images, training=False):
        x, acts = images, None
        for layer in model.layers[:-1]:
            if isinstance(layer, keras.layers.InputLayer):
                continue
            if layer is owner:
                acts, x = inner(x, training=training)
            else:
                x = layer(x, training=training)
        return acts, x

    return replay


def gradcam_pair(
    model: keras.Model, images: np.ndarray, layer_name: str | None = None
) -> dict[str, np.ndarray]:
    """Heatmaps for both targets from one backward pass: {"positive": ..., "negative": ...}.

    Each is in [0, 1], shape (n, height, width) of the input. `images`: float32 batch
    as the model takes it (0-255 at its input size). The gradient of -z is minus the
    gradient of z, so the cat map only flips the sign of the channel weights. A model
    that averages each photo with its mirror image (`pipeline.modeling.flip_views`) has a map
    per view; the mirror's is flipped back and the two averaged.
    """
    import tensorflow as tf

    layer_name = layer_name or target_layer(model)
    forward = _activations_and_head_input(model, layer_name)
    head = _head(model)
    images = tf.convert_to_tensor(np.asarray(images, np.float32))
    with tf.GradientTape() as tape:
        acts, features = forward(images, training=False)
        logit = tf.matmul(features, head.kernel) + head.bias
        score = tf.reduce_sum(logit)
    weights = tf.reduce_mean(tape.gradient(score, acts), axis=(1, 2), keepdims=True)
    size = images.shape[1:3]
    maps = {}
    views = flip_views.view_count(model)
    for target, sign in (("positive", 1.0), ("negative", -1.0)):
        cam = tf.nn.relu(tf.reduce_sum(sign * weights * acts, axis=-1))
        cam = tf.convert_to_tensor(flip_views.merge_maps(cam.numpy(), views))
        cam = tf.math.divide_no_nan(cam, tf.reduce_max(cam, axis=(1, 2), keepdims=True))
        maps[target] = tf.image.resize(cam[..., None], size, method="bilinear")[..., 0].numpy()
    return maps


def gradcam(
    model: keras.Model,
    images: np.ndarray,
    target: str = "positive",
    layer_name: str | None = None,
) -> np.ndarray:
    """Heatmaps in [0, 1], shape (n, height, width): evidence for class 1 (dog,
    "positive") or class 0 (cat, "negative")."""
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}")
    return gradcam_pair(model, images, layer_name)[target]


# A short perceptual colour ramp (dark blue -> cyan -> yellow -> red) for overlays.
_RAMP = np.array(
    [[0, 0, 80], [0, 90, 200], [0, 200, 200], [250, 230, 0], [255, 90, 0], [200, 0, 0]], float
)


def colorize(heat: np.ndarray) -> np.ndarray:
    """(h, w) in [0, 1] -> (h, w, 3) uint8."""
    stops = np.linspace(0, 1, len(_RAMP))
    heat = np.clip(heat, 0, 1)
    return np.stack([np.interp(heat, stops, _RAMP[:, c]) for c in range(3)], -1).astype(np.uint8)


def overlay(image: np.ndarray, heat: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """The heatmap blended over the image the model saw (uint8 RGB, same size)."""
    blended = (1 - alpha) * np.asarray(image, float) + alpha * colorize(heat).astype(float)
    return blended.clip(0, 255).astype(np.uint8)
