"""The four models of the study, and a name -> builder registry.

Every model takes a batch of float32 RGB images in 0-255 at its input size,
normalizes inside (so no caller ever rescales), and outputs class probabilities: for
two classes one sigmoid unit, P(second class) (so two-class studies and their saved
models stay as they were), for N classes an N-way softmax (`output_layer`).
All layers are flat in one functional graph (MobileNetV2 is not nested as a
single layer), so any inner activation can be reached. The CNNs may also average
each photo with its mirror image inside the graph (`pipeline.modeling.flip_views`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import keras
from keras import layers

from pipeline.errors import PipelineError
from pipeline.modeling.flip_views import FlipViews, MeanOfViews
from pipeline.modeling.weights import WeightsSource


def output_layer(num_classes: int) -> layers.Dense:
    """The head's last layer, always float32: one sigmoid unit for two classes, an N-way
    softmax for more."""
    if num_classes < 2:
        raise ValueError(f"a classifier needs at least two classes, not {num_classes}")
    if num_classes == 2:
        return layers.Dense(1, activation="sigmoid", name="head_output", dtype="float32")
    return layers.Dense(num_classes, activation="softmax", name="head_output", dtype="float32")


def _cnn(
    name: str,
    input_size: int,
    filters: tuple[int, ...],
    dropout: float,
    dtype: str = "float32",
    flip_average: bool = False,
    max_pool: bool = False,
    num_classes: int = 2,
) -> keras.Model:
    """Conv blocks, global pooling, dropout, the output layer (`output_layer`).

    `flip_average` makes the model answer with the mean logit of each photo and its
    mirror image (`pipeline.modeling.flip_views`); training is unchanged.

    `max_pool` gives the head each feature's maximum over the photo beside its mean
    ("head_pool" is then their concatenation). On the dev split this lifted CNN-3 by
    3.1-3.6 points at no measurable cost, and left CNN-4 where it was: a shallow CNN's
    last features are weak local detectors, and whether one fired strongly anywhere in
    the photo says more than its average.

    `dtype` is the Keras dtype policy of every layer but the output, which stays
    float32 (`pipeline.modeling.precision`: "mixed_bfloat16" to train faster on CPUs with it).

    Measured on 2 CPU cores (see README): a stride-2 first conv quarters the cost of
    every later layer (~4x faster training than a stride-1 stem at 128px). BatchNorm
    (momentum 0.9, for the few thousand steps we train) after every conv but the
    stem learns much faster per epoch (a 4,000-photo, 4-epoch trial: 73% vs 64%
    validation accuracy); on the stem, where activations are largest, it would
    cost most.
    """
    inputs = keras.Input((input_size, input_size, 3), name="image")
    x = layers.Rescaling(1.0 / 255, name="rescale", dtype=dtype)(inputs)
    if flip_average:
        x = FlipViews(name="flip_views", dtype=dtype)(x)
    for i, n_filters in enumerate(filters, start=1):
        stem = i == 1
        x = layers.Conv2D(
            n_filters,
            3,
            strides=2 if stem else 1,
            padding="same",
            use_bias=stem,
            kernel_initializer="he_normal",
            name=f"conv{i}",
            dtype=dtype,
        )(x)
        if not stem:
            x = layers.BatchNormalization(momentum=0.9, name=f"bn{i}", dtype=dtype)(x)
        x = layers.ReLU(name=f"relu{i}", dtype=dtype)(x)
        x = layers.MaxPooling2D(name=f"pool{i}", dtype=dtype)(x)
    if max_pool:
        mean = layers.GlobalAveragePooling2D(name="global_mean", dtype=dtype)(x)
        peak = layers.GlobalMaxPooling2D(name="global_max", dtype=dtype)(x)
        x = layers.Concatenate(name="head_pool", dtype=dtype)([mean, peak])
    else:
        x = layers.GlobalAveragePooling2D(name="head_pool", dtype=dtype)(x)
    if flip_average:
        x = MeanOfViews(name="mean_of_views", dtype=dtype)(x)
    x = layers.Dropout(dropout, name="head_dropout", dtype=dtype)(x)
    outputs = output_layer(num_classes)(x)
    return keras.Model(inputs, outputs, name=name)


def build_cnn_of_depth(
    depth: int,
    input_size: int = 128,
    dropout: float = 0.3,
    dtype: str = "float32",
    width: int = 32,
    flip_average: bool = False,
    max_pool: bool = False,
    num_classes: int = 2,
) -> keras.Model:
    """`depth` conv blocks ("cnn<depth>"), of `width` filters, then 2x, 4x, ... `width`."""
    filters = tuple(width * 2**i for i in range(depth))
    return _cnn(
        f"cnn{depth}",
        input_size,
        filters,
        dropout=dropout,
        dtype=dtype,
        flip_average=flip_average,
        max_pool=max_pool,
        num_classes=num_classes,
    )


# Three conv blocks of 32/64/128 filters by default, and four of 32/64/128/256.
build_cnn3 = functools.partial(build_cnn_of_depth, 3)
build_cnn4 = functools.partial(build_cnn_of_depth, 4)


def build_mobilenetv2(
    input_size: int,
    weights: WeightsSource | None,
    dropout: float = 0.3,
    name: str = "mobilenetv2_frozen",
    num_classes: int = 2,
) -> keras.Model:
    """MobileNetV2 (alpha 1.0, no top) with a frozen base and an `output_layer` head.

    `weights` None gives random weights (for tests that only check structure).
    """
    if weights is not None and weights.kind == "hub":
        return _build_hub_model(
            input_size, weights, dropout=dropout, name=name, num_classes=num_classes
        )
    inputs = keras.Input((input_size, input_size, 3), name="image")
    x = layers.Rescaling(1.0 / 127.5, offset=-1.0, name="mobilenet_preprocess")(inputs)
    try:
        base = keras.applications.MobileNetV2(
            input_tensor=x,
            include_top=False,
            alpha=1.0,
            weights=weights.path if weights is not None else None,
        )
    except (ValueError, OSError, KeyError) as err:
        raise PipelineError(
            f"cannot load MobileNetV2 weights from {weights.spec}: {err}. "
            "Expected a Keras MobileNetV2 (alpha 1.0, no top) weights file."
        ) from None
    for layer in base.layers:
        layer.trainable = False
    x = layers.GlobalAveragePooling2D(name="head_pool")(base.output)
    x = layers.Dropout(dropout, name="head_dropout")(x)
    return keras.Model(inputs, output_layer(num_classes)(x), name=name)


def head_model(model: keras.Model, feature_shape: tuple) -> keras.Model:
    """The frozen model's head (dropout, then the output) on its own, reading pooled
    features: it shares its layers, so training it trains the full model's head."""
    inputs = keras.Input(feature_shape, name="pooled_features")
    x = model.get_layer("head_dropout")(inputs)
    return keras.Model(inputs, model.get_layer("head_output")(x), name="head")


def upper_model(model: keras.Model, cut: str) -> keras.Model:
    """The layers from `cut` to the output, reading the activations that enter `cut`."""
    return keras.Model(model.get_layer(cut).input, model.output, name="upper")


def base_layers(model: keras.Model) -> list[keras.Layer]:
    """The MobileNetV2 layers of a model built by `build_mobilenetv2`, in order."""
    names = [layer.name for layer in model.layers]
    start = names.index("mobilenet_preprocess") + 1
    return model.layers[start : names.index("head_pool")]


def unfreeze_top(model: keras.Model, n_layers: int = 30) -> list[str]:
    """Make the last `n_layers` base layers trainable, BatchNorm excepted.

    BatchNorm layers stay frozen, which in Keras 3 also keeps them in
    inference mode, so their statistics are not disturbed by small batches.
    Returns the names of the unfrozen layers. Recompile afterwards.
    """
    top = base_layers(model)[-n_layers:]
    for layer in top:
        layer.trainable = not isinstance(layer, layers.BatchNormalization)
    return [layer.name for layer in top]


def trainable_params(model: keras.Model) -> int:
    return int(sum(keras.ops.size(w) for w in model.trainable_weights))


def augmentation(seed: int) -> keras.Sequential:
    """Random left-right flips, only in the training tf.data pipeline.

    A short schedule leaves these small CNNs under-fitted: with flips, rotations
    and zooms, a first full run still had training accuracy below validation
    accuracy after 4 epochs. So only the mirror image is kept: it costs nothing
    and is always a valid photo.
    """
    return keras.Sequential([layers.RandomFlip("horizontal", seed=seed)], name="augmentation")


# --- TensorFlow Hub ------------------------------------------------------------


@keras.saving.register_keras_serializable(package="petcompare")
class HubFeatureVector(keras.layers.Layer):
    """A frozen TensorFlow Hub image feature-vector model as a Keras 3 layer.

    `hub.KerasLayer` belongs to tf-keras and cannot sit in a Keras 3 model,
    so this calls the SavedModel loaded with `hub.load` directly. It expects
    images in [0, 1], the Hub convention for image models.
    """

    def __init__(self, handle: str, output_dim: int | None = None, **kwargs):
        kwargs["trainable"] = False
        super().__init__(**kwargs)
        import tensorflow_hub as hub

        self.handle = handle
        self._module = hub.load(handle)
        self.output_dim = output_dim

    def call(self, images):
        return self._module(images)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.output_dim)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "handle": self.handle,
            "output_dim": self.output_dim,
        }


def _build_hub_model(
    input_size: int, weights: WeightsSource, *, dropout: float, name: str, num_classes: int
) -> keras.Model:
    import numpy as np
    import tensorflow_hub as hub

    probe = hub.load(weights.path)(np.zeros((1, input_size, input_size, 3), np.float32))
    inputs = keras.Input((input_size, input_size, 3), name="image")
    x = layers.Rescaling(1.0 / 255, name="hub_preprocess")(inputs)
    x = HubFeatureVector(weights.path, int(probe.shape[-1]), name="head_pool")(x)
    x = layers.Dropout(dropout, name="head_dropout")(x)
    return keras.Model(inputs, output_layer(num_classes)(x), name=name)


def is_hub_model(model: keras.Model) -> bool:
    return any(isinstance(layer, HubFeatureVector) for layer in model.layers)


CNN_BUILDERS: dict[str, Callable[..., keras.Model]] = {
    "cnn3": build_cnn3,
    "cnn4": build_cnn4,
}
