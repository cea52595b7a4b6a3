"""The one forward pass from pixels (or cached features) to answers: P(positive) and the
logit, shared by training's validation scoring, evaluation, robustness and the Ray actors."""

from __future__ import annotations

import keras
import numpy as np

from pipeline.data.dataset import Sample, image_dataset
from pipeline.devices import predict_on_batch

# Only where a model has no final sigmoid Dense (a user's model, a run stored before logits
# were): its P(positive) is clipped to get a finite logit.
EPS = 1e-7


def logits_from_probabilities(p: np.ndarray) -> np.ndarray:
    """logit(p) with p clipped to [EPS, 1 - EPS]: saturated predictions lose their size."""
    p = np.clip(np.asarray(p, float), EPS, 1 - EPS)
    return np.log(p) - np.log1p(-p)


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
            logit = logits_from_probabilities(p)
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
    ds = image_dataset(root, samples, input_size, batch_size=batch_size)

    def batches():
        for images, _ in ds:
            yield images
            if progress is not None:
                progress(len(images))

    return score_batches(model, batches())
