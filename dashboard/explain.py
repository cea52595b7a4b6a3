"""Grad-CAM maps for the dashboard: stored by the pipeline, or computed on the spot."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.data.images import ImageError, load_rgb, resize_for_model
from pipeline.evaluation import analysis, gradcam
from pipeline.store import artifacts

# model -> {"image", "positive", "negative"} (two classes) or {"image", "predicted", "true",
# "classes": [predicted, true]} (N classes; live answers have no "true").
Maps = dict[str, dict[str, np.ndarray]]


def class_explainable(model) -> bool:
    """Whether class Grad-CAM applies to an N-way model: a Dense(N > 1) head and a spatial
    layer of the model's own (flat) graph."""
    import keras

    head = model.layers[-1]
    if not isinstance(head, keras.layers.Dense) or head.units < 2:
        return False
    try:
        model.get_layer(gradcam.target_layer(model))
    except ValueError:
        return False
    return True


def class_maps(model, images: np.ndarray, targets: np.ndarray | None = None) -> tuple:
    """(maps (n, h, w) in [0, 1], target classes (n,)) of an N-way model: the evidence for
    each photo's `targets` class, or for its predicted class when None."""
    import keras
    import tensorflow as tf

    from pipeline.modeling import flip_views

    layer = model.get_layer(gradcam.target_layer(model))
    head = model.layers[-1]
    forward = keras.Model(model.inputs, [layer.output, head.input])
    images = tf.convert_to_tensor(np.asarray(images, np.float32))
    with tf.GradientTape() as tape:
        acts, features = forward(images, training=False)
        logits = tf.matmul(features, head.kernel) + head.bias
        chosen = np.asarray(logits).argmax(axis=1) if targets is None else np.asarray(targets)
        picked = tf.gather(logits, chosen.astype(np.int32), axis=1, batch_dims=1)
        score = tf.reduce_sum(picked)
    weights = tf.reduce_mean(tape.gradient(score, acts), axis=(1, 2), keepdims=True)
    cam = tf.nn.relu(tf.reduce_sum(weights * acts, axis=-1)).numpy()
    cam = tf.convert_to_tensor(flip_views.merge_maps(cam, flip_views.view_count(model)))
    cam = tf.math.divide_no_nan(cam, tf.reduce_max(cam, axis=(1, 2), keepdims=True))
    size = images.shape[1:3]
    return tf.image.resize(cam[..., None], size, method="bilinear")[..., 0].numpy(), chosen


def _one(model, image: np.ndarray, true: int | None) -> dict[str, np.ndarray]:
    """Maps of one N-way model for one image: its predicted class (and the true one)."""
    batch = image[None].astype(np.float32)
    predicted, chosen = class_maps(model, batch)
    result = {"image": image, "predicted": predicted[0], "classes": chosen.astype(int)}
    if true is not None:
        result["true"] = class_maps(model, batch, np.array([true]))[0][0]
        result["classes"] = np.array([int(chosen[0]), true])
    return result


def live(models: dict, pixels: dict[tuple[int, int], np.ndarray], true: int | None = None) -> Maps:
    """Maps of every model Grad-CAM applies to, for one image, given its pixels at each
    model's input size (`true`: the photo's class index, for N-way models' 'true' map)."""
    result: Maps = {}
    for name, model in models.items():
        size = tuple(model.input_shape[1:3])
        if class_explainable(model):
            result[name] = _one(model, pixels[size], true)
            continue
        if not gradcam.explainable(model):
            continue
        batch = pixels[size][None].astype(np.float32)
        maps = gradcam.gradcam_pair(model, batch)
        result[name] = {"image": pixels[size], **{t: m[0] for t, m in maps.items()}}
    return result


def stored(run: artifacts.Run, path: str) -> Maps | None:
    """The maps the pipeline stored for a validation photo, if it did."""
    file = run.gradcam_of(path)
    return analysis.read_explanation(file) if file is not None else None


def from_photo(run: artifacts.Run, path: str, load_models) -> tuple[Maps | None, str]:
    """Maps computed now from the photo on disk; (None, why) when it is not there.

    `load_models()` gives name -> loaded model.
    """
    photo = Path(run.manifest["dataset"]["root"]) / path
    try:
        image = load_rgb(photo).image
    except (ImageError, OSError):
        return None, f"the photo is not at {photo}, and the pipeline stored no maps for it"
    models = load_models()
    sizes = {tuple(m.input_shape[1:3]) for m in models.values()}
    pixels = {size: resize_for_model(image, size) for size in sizes}
    return live(models, pixels, true=true_label(run, path)), "computed now from the photo"


def true_label(run: artifacts.Run, path: str) -> int | None:
    """The class index split.csv gives a photo (None when it is not listed)."""
    split = run.split()
    found = split.label[split.path == path]
    return int(found.iloc[0]) if len(found) else None


def view(maps: Maps, name: str, target: str) -> np.ndarray:
    """The overlay of one model's map for `target` on the image it saw."""
    return gradcam.overlay(maps[name]["image"], maps[name][target])
