"""Training of each model; every function returns the model and its epoch history."""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np

from pipeline.config import RunConfig
from pipeline.data.dataset import Dataset, image_dataset
from pipeline.environment import cpu_description
from pipeline.errors import PipelineError
from pipeline.modeling import features, models, precision, saved_models
from pipeline.modeling.forward import engine_for
from pipeline.modeling.predict import score_batches
from pipeline.modeling.weights import WeightsSource
from pipeline.store import checkpoint


@dataclass
class Trained:
    model: keras.Model
    history: list[dict]
    seconds: float
    notes: list[str] = field(default_factory=list)
    # (P(positive), logit) of the validation samples, when training already computed
    # them from cached inputs (identical to running the saved model on the photos).
    val_predictions: tuple[np.ndarray, np.ndarray] | None = None
    caches: list[str] = field(default_factory=list)  # cache stores this model read
    resumed_at: int = 0  # epochs taken from a checkpoint instead of trained again


class EpochRecorder(keras.callbacks.Callback):
    """Collects one history row per epoch, with learning rate and wall time."""

    def __init__(self, phase: str, first_epoch: int = 1):
        super().__init__()
        self.phase, self.first_epoch, self.rows = phase, first_epoch, []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self.rows.append(
            {
                "epoch": self.first_epoch + epoch,
                "phase": self.phase,
                "loss": logs.get("loss"),
                "accuracy": logs.get("accuracy"),
                "val_loss": logs.get("val_loss"),
                "val_accuracy": logs.get("val_accuracy"),
                "learning_rate": float(
                    keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)
                ),
                "seconds": round(time.perf_counter() - self._start, 2),
            }
        )


def _verbose() -> int:
    # A live progress bar in a terminal, one line per epoch in logs.
    return 1 if sys.stdout.isatty() else 2


def compile_model(model: keras.Model, learning_rate) -> None:
    """Adam and the loss of the model's head: binary cross-entropy for one sigmoid unit,
    sparse categorical cross-entropy (labels are class indices) for an N-way softmax."""
    binary = model.output_shape[-1] == 1
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="binary_crossentropy" if binary else "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )


@dataclass(frozen=True)
class Phase:
    """One phase of a model's training: its name in the history, length and learning rate
    (a number or a schedule); `first_epoch` numbers its epochs after an earlier phase's."""

    name: str
    epochs: int
    learning_rate: object
    first_epoch: int = 1


def _fit(
    model,
    train_data,
    val_data,
    phase: Phase,
    outputs: checkpoint.EpochOutputs | None = None,
) -> tuple[list[dict], int]:
    """Fit, resuming after the last epoch checkpointed in `outputs`.

    Returns (one history row per epoch, epochs taken from the checkpoint).
    """
    epochs = phase.epochs
    recorder = EpochRecorder(phase.name, phase.first_epoch)
    callbacks = [recorder]
    done = 0
    if outputs is not None:
        done, recorder.rows = checkpoint.restore(outputs.checkpoint, model)
        callbacks += outputs.callbacks(recorder)
    if done < epochs:
        # Shuffling is done by the data pipelines themselves.
        model.fit(
            train_data,
            validation_data=val_data,
            epochs=epochs,
            initial_epoch=done,
            callbacks=callbacks,
            verbose=_verbose(),
            shuffle=False,
        )
    return recorder.rows, done


def train_val_data(config: RunConfig, dataset: Dataset, size: int, augment: bool):
    shape = (size, size)
    train = image_dataset(
        dataset.root,
        dataset.train,
        shape,
        batch_size=config.batch_size,
        shuffle_seed=config.training_seed,
        augment=models.augmentation(config.training_seed) if augment else None,
    )
    val = image_dataset(dataset.root, dataset.val, shape, batch_size=config.batch_size)
    return train, val


def _fit_on_images(
    model,
    *,
    config: RunConfig,
    dataset: Dataset,
    phase: Phase,
    outputs: checkpoint.EpochOutputs | None = None,
) -> tuple[list[dict], int]:
    """Compile and fit on augmented photos, validating on the plain validation photos."""
    import tensorflow as tf  # for the distribution strategy in force

    compile_model(model, phase.learning_rate)
    size = model.input_shape[1]
    train, val = train_val_data(config, dataset, size, augment=True)
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    if replicas > 1:  # see features.array_dataset: TensorFlow 2.21 needs even splits
        if config.batch_size % replicas:
            raise PipelineError(
                f"--batch-size {config.batch_size} does not split over {replicas} devices"
            )
        train, val = (
            ds.unbatch().batch(config.batch_size, drop_remainder=True) for ds in (train, val)
        )
    return _fit(model, train, val, phase=phase, outputs=outputs)


def _fit_on_arrays(
    model,
    *,
    train: tuple,
    val: tuple,
    config: RunConfig,
    phase: Phase,
    flip: bool = False,
    outputs: checkpoint.EpochOutputs | None = None,
    other_view: tuple | None = None,
) -> tuple[list[dict], int]:
    """Compile and fit on cached (memory-mapped) arrays, photos or features: `train` and `val`
    are (rows, labels). `other_view`: (the training rows made another way, the share drawn
    from it)."""
    import tensorflow as tf  # for the distribution strategy in force

    compile_model(model, phase.learning_rate)
    batch = config.batch_size
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    if batch % replicas:
        raise PipelineError(f"--batch-size {batch} does not split over {replicas} devices")
    full = replicas > 1
    other, share = other_view or (None, 0.0)
    train_data = features.array_dataset(
        *train,
        batch,
        seed=config.training_seed,
        flip=flip,
        full_batches=full,
        other_view=other,
        other_share=share,
    )
    val_data = features.array_dataset(*val, batch, full_batches=full)
    return _fit(model, train_data, val_data, phase=phase, outputs=outputs)


def _predict(model: keras.Model, x, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities, logits) for the rows of `x`, a batch at a time."""
    batches = (np.asarray(x[i : i + batch_size]) for i in range(0, len(x), batch_size))
    return score_batches(model, batches)


def build_cnn(
    name: str, config: RunConfig, dtype: str = "float32", *, num_classes: int = 2
) -> keras.Model:
    """CNN `name` as `config` describes it, computing in `dtype`, for `num_classes`."""
    return models.CNN_BUILDERS[name](
        config.cnn_input_size,
        config.dropout,
        dtype,
        width=config.cnn_width,
        flip_average=config.cnn_flip_average,
        max_pool=config.cnn_max_pool,
        num_classes=num_classes,
    )


def train_cnn(
    name: str,
    config: RunConfig,
    dataset: Dataset,
    cache_root: Path,
    progress=None,
    outputs: checkpoint.EpochOutputs | None = None,
) -> Trained:
    """A small CNN from scratch on cached pixels: random flips, a share of photos resized the
    TensorFlow way, Adam, warm-up then cosine decay, in `config.precision`.

    Both CNNs share the caches of the decoded photos at their input size. The model
    returned computes in float32 whatever it trained in.
    """
    keras.utils.set_random_seed(config.training_seed)
    size = config.cnn_input_size
    start = time.perf_counter()
    batch = config.inference_batch_size
    train_x, train_y = features.load_or_decode(
        cache_root,
        dataset.root,
        dataset.train,
        input_size=size,
        batch_size=batch,
        progress=progress,
    )
    val_x, val_y = features.load_or_decode(
        cache_root, dataset.root, dataset.val, input_size=size, batch_size=batch, progress=progress
    )
    caches = [features.pixel_store(cache_root, size).name]
    other = None
    if config.cnn_resize_mix > 0:
        other, _ = features.load_or_decode(
            cache_root,
            dataset.root,
            dataset.train,
            input_size=size,
            batch_size=batch,
            progress=progress,
            resize="tensorflow",
        )
        caches.append(features.pixel_store(cache_root, size, "tensorflow").name)
    dtype = precision.resolve(config.precision, cpu_description()["cpu_flags"])
    num_classes = len(dataset.class_names)
    model = build_cnn(name, config, dtype, num_classes=num_classes)
    steps = math.ceil(len(dataset.train) / config.batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=config.cnn_learning_rate / 10,
        warmup_target=config.cnn_learning_rate,
        warmup_steps=steps,
        decay_steps=max(1, steps * (config.cnn_epochs - 1)),
        alpha=0.02,
    )
    history, resumed = _fit_on_arrays(
        model,
        train=(train_x, train_y),
        val=(val_x, val_y),
        config=config,
        phase=Phase("scratch", config.cnn_epochs, schedule),
        flip=True,
        outputs=outputs,
        other_view=(other, config.cnn_resize_mix),
    )
    notes = ["trained on cached decoded photos with random left-right flips"]
    if other is not None:
        notes.append(
            f"{config.cnn_resize_mix:.0%} of training photos per epoch resized the TensorFlow "
            "way (bilinear, no antialiasing)"
        )
    if config.cnn_max_pool:
        notes.append("head reads each feature's maximum over the photo beside its mean")
    if config.cnn_flip_average:
        notes.append("answers with the mean of each photo and its mirror image")
    if dtype != "float32":
        notes.append(f"trained in {dtype}; saved to compute in float32")
        model = _as_float32(model, name, config)
    return Trained(
        model, history, time.perf_counter() - start, notes=notes, caches=caches, resumed_at=resumed
    )


def _as_float32(model: keras.Model, name: str, config: RunConfig) -> keras.Model:
    """The same weights in a float32 model: what is saved, scored and served."""
    plain = build_cnn(name, config, "float32", num_classes=max(2, model.output_shape[-1]))
    plain.set_weights(model.get_weights())
    return plain


def _features(
    model,
    config: RunConfig,
    dataset: Dataset,
    weights: WeightsSource,
    cache_root: Path,
    cut_layer: str | None,
    progress=None,
) -> list[features.FeatureSet]:
    """(training, validation) features; training photos get `feature_views` views."""
    return [
        features.load_or_extract(
            model,
            cache_root,
            weights.sha256,
            root=dataset.root,
            samples=samples,
            input_size=config.mobilenet_input_size,
            batch_size=config.inference_batch_size,
            cut_layer=cut_layer,
            views=views,
            progress=progress,
            engine=engine_for(config.inference, cache_dir=cache_root),
        )
        for samples, views in ((dataset.train, config.feature_views), (dataset.val, 1))
    ]


def train_frozen(
    config: RunConfig,
    dataset: Dataset,
    weights: WeightsSource,
    cache_root: Path,
    with_cut: bool,
    progress=None,
    outputs: checkpoint.EpochOutputs | None = None,
) -> Trained:
    """MobileNetV2 with a frozen base: train the head on cached features (or end to end).

    With `with_cut`, the same pass also caches the activations fine-tuning needs.
    """
    keras.utils.set_random_seed(config.training_seed)
    model = models.build_mobilenetv2(
        config.mobilenet_input_size,
        weights,
        dropout=config.dropout,
        num_classes=len(dataset.class_names),
    )
    hub = models.is_hub_model(model)
    cut_layer = cut_layer_name(model, config.finetune_layers) if with_cut and not hub else None
    start = time.perf_counter()
    if config.frozen_mode == "end-to-end":
        history, resumed = _fit_on_images(
            model,
            config=config,
            dataset=dataset,
            phase=Phase("frozen", config.frozen_epochs, config.frozen_learning_rate),
            outputs=outputs,
        )
        return Trained(
            model,
            history,
            time.perf_counter() - start,
            notes=["trained end to end"],
            resumed_at=resumed,
        )
    train_set, val_set = _features(
        model,
        config,
        dataset,
        weights=weights,
        cache_root=cache_root,
        cut_layer=cut_layer,
        progress=progress,
    )
    extract_seconds = time.perf_counter() - start
    head = models.head_model(model, train_set.pooled.shape[1:])
    history, resumed = _fit_on_arrays(
        head,
        train=(train_set.pooled, train_set.labels),
        val=(val_set.pooled, val_set.labels),
        config=config,
        phase=Phase("frozen", config.frozen_epochs, config.frozen_learning_rate),
        outputs=outputs,
    )
    note = (
        f"head trained on cached pooled features ({config.feature_views} view(s) per "
        f"training image; extraction {extract_seconds:.0f}s)"
    )
    val_p = _predict(head, val_set.pooled, config.inference_batch_size)
    caches = sorted(set(train_set.stores + val_set.stores))
    return Trained(
        model,
        history,
        time.perf_counter() - start,
        notes=[note],
        val_predictions=val_p,
        caches=caches,
        resumed_at=resumed,
    )


def cut_layer_name(model: keras.Model, n_layers: int) -> str:
    """The first layer of the part fine-tuning unfreezes."""
    return models.base_layers(model)[-n_layers].name


def train_finetuned(
    config: RunConfig,
    dataset: Dataset,
    weights: WeightsSource,
    frozen_model_path: Path,
    frozen_history: list[dict],
    cache_root: Path,
    progress=None,
    outputs: checkpoint.EpochOutputs | None = None,
) -> Trained:
    """Continue from the frozen model with its last layers unfrozen, Adam at a tiny rate."""
    keras.utils.set_random_seed(config.training_seed + 1)
    model = saved_models.load(frozen_model_path)
    model.name = "mobilenetv2_finetuned"
    unfrozen = models.unfreeze_top(model, config.finetune_layers)
    phase = Phase(
        "finetune",
        config.finetune_epochs,
        config.finetune_learning_rate,
        first_epoch=len(frozen_history) + 1,
    )
    start = time.perf_counter()
    caches: list[str] = []
    if config.frozen_mode == "end-to-end":
        rows, resumed = _fit_on_images(
            model, config=config, dataset=dataset, phase=phase, outputs=outputs
        )
        notes = ["fine-tuned end to end"]
        val_p = None
    else:
        cut = unfrozen[0]
        train_set, val_set = _features(
            model,
            config,
            dataset,
            weights=weights,
            cache_root=cache_root,
            cut_layer=cut,
            progress=progress,
        )
        upper = models.upper_model(model, cut)
        rows, resumed = _fit_on_arrays(
            upper,
            train=(train_set.cut, train_set.labels),
            val=(val_set.cut, val_set.labels),
            config=config,
            phase=phase,
            outputs=outputs,
        )
        notes = [
            f"layers from {cut} up trained on cached activations below them "
            f"({config.feature_views} view(s) per training image)"
        ]
        val_p = _predict(upper, val_set.cut, config.inference_batch_size)
        caches = sorted(set(train_set.stores + val_set.stores))
    notes.append(f"unfrozen: last {config.finetune_layers} base layers except BatchNorm")
    history = [dict(row) for row in frozen_history] + rows
    return Trained(
        model,
        history,
        time.perf_counter() - start,
        notes=notes,
        val_predictions=val_p,
        caches=caches,
        resumed_at=resumed,
    )
