"""Grad-CAM: where in the photo a model found its evidence for a class.

A two-class model here ends in one sigmoid unit, so there is one score z (the
logit) with P(positive) = sigmoid(z). The evidence for the positive class is the
gradient of z; for the negative class the gradient of -z (the gradient of
1 - P(positive) points the same way but vanishes when the model is confident, so
the logit is used).

An N-class model ends in an N-way softmax Dense; the evidence for class c is the
gradient of c's logit, the pre-softmax value features @ kernel[:, c] + bias[c]
(for the same reason: the softmax output saturates). Each photo gets the map of
the class the model predicts and of its true class (`explain_maps`).

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

TARGETS = ("positive", "negative")  # two classes: the maps of each class
CLASS_TARGETS = ("predicted", "true")  # N classes: the maps of these two classes per photo
CLASSES = "classes"  # N classes: (n, 2) ints, [predicted class, true class] of each photo
_SKIP = (
    keras.layers.MaxPooling2D,
    keras.layers.AveragePooling2D,
    keras.layers.GlobalAveragePooling2D,
    keras.layers.Dropout,
)


def _spatial_layers(model: keras.Model) -> list[keras.Layer]:
    """Layers with a 4-D output from the first one with weights on: what comes before
    (rescaling, augmentation) only passes the pixels on and has nothing to explain."""
    found = _all_spatial(model)
    first = next((i for i, layer in enumerate(found) if layer.weights), len(found))
    return found[first:]


def _all_spatial(model: keras.Model) -> list[keras.Layer]:
    found = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            found += _all_spatial(layer)
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
    """Whether Grad-CAM applies: a spatial layer to explain and a Dense head (one sigmoid
    unit or an N-way softmax).

    A TensorFlow Hub base is one opaque layer with a pooled output, so it has none.
    """
    return bool(_spatial_layers(model)) and isinstance(model.layers[-1], keras.layers.Dense)


def is_binary(model: keras.Model) -> bool:
    """Whether the model ends in one unit (two classes) rather than N."""
    return _head(model).units == 1


def _head(model: keras.Model) -> keras.layers.Dense:
    head = model.layers[-1]
    if not isinstance(head, keras.layers.Dense):
        raise ValueError("Grad-CAM here expects a model ending in a Dense layer")
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


def _cam(weights, acts, *, views: int, size) -> np.ndarray:
    """Channel-weighted activations, ReLU, views merged, scaled to [0, 1], resized to `size`."""
    import tensorflow as tf

    cam = tf.nn.relu(tf.reduce_sum(weights * acts, axis=-1))
    cam = tf.convert_to_tensor(flip_views.merge_maps(cam.numpy(), views))
    cam = tf.math.divide_no_nan(cam, tf.reduce_max(cam, axis=(1, 2), keepdims=True))
    return tf.image.resize(cam[..., None], size, method="bilinear")[..., 0].numpy()


def gradcam_pair(
    model: keras.Model, images: np.ndarray, layer_name: str | None = None
) -> dict[str, np.ndarray]:
    """Heatmaps of a two-class model for both targets from one backward pass:
    {"positive": ..., "negative": ...}.

    Each is in [0, 1], shape (n, height, width) of the input. `images`: float32 batch
    as the model takes it (0-255 at its input size). The gradient of -z is minus the
    gradient of z, so the negative map only flips the sign of the channel weights. A model
    that averages each photo with its mirror image (`pipeline.modeling.flip_views`) has a map
    per view; the mirror's is flipped back and the two averaged.
    """
    import tensorflow as tf

    head = _head(model)
    if head.units != 1:
        raise ValueError("gradcam_pair is for a one-unit (two-class) head: use gradcam_classes")
    forward = _activations_and_head_input(model, layer_name or target_layer(model))
    images = tf.convert_to_tensor(np.asarray(images, np.float32))
    with tf.GradientTape() as tape:
        acts, features = forward(images, training=False)
        logit = tf.matmul(features, head.kernel) + head.bias
        score = tf.reduce_sum(logit)
    weights = tf.reduce_mean(tape.gradient(score, acts), axis=(1, 2), keepdims=True)
    views = flip_views.view_count(model)
    size = images.shape[1:3]
    return {
        target: _cam(sign * weights, acts, views=views, size=size)
        for target, sign in (("positive", 1.0), ("negative", -1.0))
    }


def _class_maps(
    model: keras.Model, images: np.ndarray, classes: list, layer_name: str | None = None
):
    """(the classes explained, one heatmap batch per entry of `classes`). An entry is an (n,)
    int array (that class's logit per photo) or None (each photo's predicted class)."""
    import tensorflow as tf

    head = _head(model)
    forward = _activations_and_head_input(model, layer_name or target_layer(model))
    images = tf.convert_to_tensor(np.asarray(images, np.float32))
    with tf.GradientTape(persistent=True) as tape:
        acts, features = forward(images, training=False)
        logits = tf.matmul(features, head.kernel) + head.bias  # pre-softmax
        chosen = [np.argmax(logits.numpy(), axis=1) if c is None else c for c in classes]
        scores = [
            tf.reduce_sum(logits * tf.one_hot(np.asarray(c, np.int32), head.units)) for c in chosen
        ]
    views = flip_views.view_count(model)
    maps = []
    for score in scores:
        weights = tf.reduce_mean(tape.gradient(score, acts), axis=(1, 2), keepdims=True)
        maps.append(_cam(weights, acts, views=views, size=images.shape[1:3]))
    del tape
    return chosen, maps


def gradcam_classes(
    model: keras.Model, images: np.ndarray, classes: np.ndarray, layer_name: str | None = None
) -> np.ndarray:
    """Heatmaps in [0, 1], shape (n, height, width), of an N-class model: photo i's evidence
    for class `classes[i]` (the gradient of that class's pre-softmax logit)."""
    classes = np.broadcast_to(np.asarray(classes, int), (len(images),))
    _, [heat] = _class_maps(model, images, [classes], layer_name=layer_name)
    return heat


def explain_maps(
    model: keras.Model,
    images: np.ndarray,
    labels: np.ndarray | None = None,
    layer_name: str | None = None,
) -> dict[str, np.ndarray]:
    """The maps stored for each photo. Two-class model: {"positive", "negative"}
    (`gradcam_pair`). N-class model: {"predicted", "true", "classes"}: the map of the class
    the model predicts, of the photo's true class (`labels`; -1 where unknown gives an
    all-zero map), and (n, 2) ints [predicted class, true class]."""
    if is_binary(model):
        return gradcam_pair(model, images, layer_name)
    known = np.asarray(labels if labels is not None else np.full(len(images), -1), int)
    [predicted, _], [on_predicted, on_true] = _class_maps(
        model, images, [None, np.maximum(known, 0)], layer_name=layer_name
    )
    return {
        "predicted": on_predicted,
        "true": np.where((known < 0)[:, None, None], 0.0, on_true).astype(on_true.dtype),
        CLASSES: np.stack([predicted, known], axis=1).astype(int),
    }


def gradcam(
    model: keras.Model,
    images: np.ndarray,
    target: str | int = "positive",
    layer_name: str | None = None,
) -> np.ndarray:
    """Heatmaps in [0, 1], shape (n, height, width): for a two-class model the evidence for
    class 1 ("positive") or class 0 ("negative"); for an N-class model (or any, with an int
    target) the evidence for class `target`."""
    if isinstance(target, (int, np.integer)) and not isinstance(target, bool):
        if is_binary(model):
            return gradcam_pair(model, images, layer_name)["positive" if target else "negative"]
        return gradcam_classes(model, images, int(target), layer_name=layer_name)
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS} or a class index")
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
