"""The one forward pass from pixels (or cached features) to answers: class probabilities and
logits, shared by training's validation scoring, evaluation, robustness and the Ray actors.

A two-class model (one sigmoid unit) answers with (n,) P(second class) and (n,) logits; an
N-class model (an N-way softmax) with (n, N) probabilities and (n, N) logits
(`pipeline.store.predictions` reads both the same way)."""

from __future__ import annotations

import keras
import numpy as np

from pipeline.data.dataset import Sample, image_dataset
from pipeline.modeling.engine import Engine
from pipeline.modeling.forward import Forward
from pipeline.store.predictions import log_probabilities, logits_from_probabilities


def _final_dense(model: keras.Model):
    """The model's last layer when it is a Dense with a sigmoid or softmax (ours always are)."""
    layer = model.layers[-1]
    activation = getattr(getattr(layer, "activation", None), "__name__", "")
    if isinstance(layer, keras.layers.Dense) and activation in ("sigmoid", "softmax"):
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


class Scorer:
    """(probabilities, logits) of batches through one model, on `engine`
    (`pipeline.modeling.engine`; TensorFlow when None), compiled at the first batch.

    The logits are the pre-sigmoid (pre-softmax) values, computed from the input of the
    model's final Dense layer, so they stay exact where a probability rounds to 0 or 1. A
    model without such a layer gets the logits of its (clipped) probabilities.
    """

    def __init__(self, model: keras.Model, *, engine: Engine | None = None):
        self.model, self.engine = model, engine
        self.dense = _final_dense(model)
        features = _dense_input(model, self.dense) if self.dense is not None else None
        if features is None:
            self.dense = None
        self._scorer = (
            model if self.dense is None else keras.Model(model.inputs, [model.output, features])
        )
        self.forward: Forward | None = None

    def compiled(self) -> Forward:
        """The forward pass (probabilities first), compiled at the first call. Every pass
        over a model (scoring, latency, the live page) compiles this same graph, so one
        converted model in the cache serves them all."""
        if self.forward is None:
            self.forward = Forward(self._scorer, engine=self.engine)
        return self.forward

    def _batch(self, batch) -> tuple[np.ndarray, np.ndarray]:
        outputs = self.compiled()(np.asarray(batch))
        p = outputs[0]
        if self.dense is None:
            logit = logits_from_probabilities(p) if p.shape[-1] == 1 else log_probabilities(p)
        else:
            kernel, bias = (np.asarray(w) for w in self.dense.get_weights())
            logit = np.asarray(outputs[1]) @ kernel + bias
        if p.shape[-1] == 1:  # two classes: one column, kept as a vector
            p, logit = p.reshape(-1), logit.reshape(-1)
        return p, logit

    def score(self, batches) -> tuple[np.ndarray, np.ndarray]:
        """(probabilities, logits) for every row of `batches` (float32 image or feature
        arrays)."""
        scored = [self._batch(batch) for batch in batches]
        if not scored:
            width = self.model.output_shape[-1]
            shape = (0,) if width == 1 else (0, width)
            return np.zeros(shape, np.float32), np.zeros(shape, np.float32)
        probabilities, logits = zip(*scored, strict=True)
        return np.concatenate(probabilities), np.concatenate(logits).astype(np.float32)


def score_batches(
    model: keras.Model, batches, *, engine: Engine | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities, logits) for every row of `batches`: one pass of a `Scorer`."""
    return Scorer(model, engine=engine).score(batches)


def predict_samples(
    model: keras.Model,
    root: str,
    samples: list[Sample],
    input_size: tuple[int, int],
    batch_size: int,
    progress=None,
    engine: Engine | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities, logits) for each sample, through the shared image path."""
    ds = image_dataset(root, samples, input_size, batch_size=batch_size)

    def batches():
        for images, _ in ds:
            yield images
            if progress is not None:
                progress(len(images))

    return score_batches(model, batches(), engine=engine)
