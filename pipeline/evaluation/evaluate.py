"""Score a trained model on the validation photos and write its evaluation files."""

from __future__ import annotations

import os
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from pipeline.data.dataset import Sample, image_dataset
from pipeline.data.images import ImageError, load_rgb
from pipeline.devices import predict_on_batch
from pipeline.evaluation import latency, metrics
from pipeline.store import artifacts

THUMB_SIZE = 192


def _final_dense(model: keras.Model):
    """The model's last layer when it is a one-unit sigmoid Dense (ours always are)."""
    layer = model.layers[-1]
    activation = getattr(layer, "activation", None)
    if isinstance(layer, keras.layers.Dense) and getattr(activation, "__name__", "") == "sigmoid":
        return layer
    return None


def _dense_input(model: keras.Model, dense) -> object | None:
    """The tensor feeding `dense` in *this* model's graph.

    `dense.input` names the layer's first use, which is another model's graph when
    the layer is shared (a head trained on cached features shares its layers with
    the full model), so the node that produced this model's output is looked up.
    """
    output = model.outputs[0]
    for node in getattr(dense, "_inbound_nodes", []):
        if any(t is output for t in node.output_tensors):
            return node.input_tensors[0]
    return None


def score_batches(model: keras.Model, batches) -> tuple[np.ndarray, np.ndarray]:
    """(P(positive), logit) for every row of `batches` (float32 image or feature arrays).

    The logit is the pre-sigmoid value, computed from the input of the model's final
    Dense layer, so it stays exact where the probability rounds to 0 or 1. A model
    without such a layer gets the logit of its (clipped) probability.
    """
    dense = _final_dense(model)
    features = _dense_input(model, dense) if dense is not None else None
    if features is None:
        dense = None
    scorer = model if dense is None else keras.Model(model.inputs, [model.output, features])
    probabilities, logits = [], []
    for batch in batches:
        outputs = predict_on_batch(scorer, np.asarray(batch))
        if dense is None:
            p = np.asarray(outputs).reshape(-1)
            clipped = np.clip(p.astype(np.float64), 1e-7, 1 - 1e-7)
            logit = np.log(clipped) - np.log1p(-clipped)
        else:
            p = np.asarray(outputs[0]).reshape(-1)
            kernel, bias = (np.asarray(w) for w in dense.get_weights())
            logit = (np.asarray(outputs[1]) @ kernel + bias).reshape(-1)
        probabilities.append(p)
        logits.append(logit)
    if not probabilities:
        return np.zeros(0, np.float32), np.zeros(0, np.float32)
    return np.concatenate(probabilities), np.concatenate(logits).astype(np.float32)


def predict_samples(
    model: keras.Model,
    root: str,
    samples: list[Sample],
    input_size: tuple[int, int],
    batch_size: int,
    progress=None,
) -> tuple[np.ndarray, np.ndarray]:
    """(P(positive class), logit) for each sample, through the shared image path."""
    ds = image_dataset(root, samples, input_size, batch_size)

    def batches():
        for images, _ in ds:
            yield images
            if progress is not None:
                progress(len(images))

    return score_batches(model, batches())


def single_image_latency_ms(model: keras.Model, repeats: int = 15) -> float:
    """Median wall time of one 1-image call after warm-up, as the dashboard makes it (the
    analysis times every model again, with repeats and noise: `pipeline.evaluation.latency`)."""
    return latency.measure({"model": model}, rounds=1, calls=repeats)["model"]["median_ms"]


def write_thumb(root: str, path: str, thumbs_dir: Path) -> str | None:
    """A small upright JPEG of a photo, shared by every model that missed it."""
    name = artifacts.thumb_name(path)
    target = thumbs_dir / name
    if target.exists():
        return name
    try:
        image = load_rgb(Path(root) / path).image.copy()
    except (ImageError, OSError):
        return None
    image.thumbnail((THUMB_SIZE, THUMB_SIZE))
    thumbs_dir.mkdir(parents=True, exist_ok=True)
    tmp = thumbs_dir / f".{name}.{os.getpid()}.tmp"
    image.save(tmp, format="JPEG", quality=85)
    tmp.replace(target)
    return name


def evaluate_into(
    folder: Path,
    model: keras.Model,
    root: str,
    samples: list[Sample],
    class_names: list[str],
    batch_size: int,
    thumbs_dir: Path,
    scores: tuple[np.ndarray, np.ndarray] | None = None,
    progress=None,
) -> dict:
    """Write predictions, confusion matrix, metrics and misclassified index; return the metrics.

    `scores`, when given, are the model's (probabilities, logits) already computed
    from cached inputs; otherwise every photo goes through the model.
    """
    input_size = tuple(model.input_shape[1:3])
    if scores is None:
        scores = predict_samples(model, root, samples, input_size, batch_size, progress)
    p_dog, logits = scores
    labels = np.array([s.label for s in samples])
    predicted = metrics.predicted_labels(p_dog)
    frame = pd.DataFrame(
        {
            "path": [s.path for s in samples],
            "label": labels,
            "p_dog": p_dog,
            "logit": logits,
            "predicted": predicted,
        }
    )
    artifacts.write_csv(folder / artifacts.PREDICTIONS, frame)
    matrix = metrics.confusion(labels, p_dog)
    artifacts.write_json(
        folder / artifacts.CONFUSION,
        {
            "class_names": class_names,
            "matrix": matrix,
            "per_class": metrics.per_class(matrix, class_names),
        },
    )
    wrong = frame[frame.label != frame.predicted].copy()
    wrong["confidence"] = np.where(wrong.predicted == 1, wrong.p_dog, 1 - wrong.p_dog)
    wrong["thumb"] = [write_thumb(root, p, thumbs_dir) for p in wrong.path]
    wrong = wrong.sort_values("confidence", ascending=False)
    artifacts.write_csv(folder / artifacts.MISCLASSIFIED, wrong[artifacts.MISCLASSIFIED_COLUMNS])
    result = metrics.classification_metrics(labels, p_dog)
    result["latency_ms"] = single_image_latency_ms(model)
    artifacts.write_json(folder / artifacts.METRICS, result)
    return result
