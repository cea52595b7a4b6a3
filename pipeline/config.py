"""Every setting of a run, in one frozen dataclass.

Profiles give the defaults; the command line overrides single fields.
Importing this module has no side effects.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.hashing import json_sha256
from pipeline.registry import MODEL_NAMES

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
# In a source checkout, paths are relative to the checkout; once installed (`pip install .`,
# the `petcompare` command), to the folder the command runs in.
PROJECT_ROOT = PACKAGE_ROOT if (PACKAGE_ROOT / "pyproject.toml").is_file() else Path.cwd()
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "datasets" / "PetImages"
LOCAL_DATA = PROJECT_ROOT / "data" / "PetImages"
DEFAULT_OUT = PROJECT_ROOT / "artifacts"
# The CNNs' training arithmetic (`pipeline.modeling.precision` settles "auto" per host).
PRECISIONS = ("auto", "float32", "mixed_bfloat16")
# Engines of the forward-only passes (`pipeline.modeling.engine`).
INFERENCE_CHOICES = ("auto", "tensorflow", "onnxruntime", "openvino")
# What `python -m pipeline export` writes (`pipeline.workflows.export`).
EXPORT_FORMATS = ("savedmodel", "openvino", "onnx")


def default_data_dir() -> Path:
    """`../shared/datasets/PetImages` when it exists, else `data/PetImages`."""
    return SHARED_DATA if SHARED_DATA.is_dir() else LOCAL_DATA


@dataclass(frozen=True)
class RunConfig:
    """Everything needed to rerun a study. Paths are stored as strings."""

    # Default settings to start from: "full" (every photo) or "quick" (a smoke run in minutes).
    profile: str = "full"
    # Folder with one sub-folder per class.
    data_dir: str = field(default_factory=lambda: str(default_data_dir()))
    # Artifacts folder: runs, caches and the `latest` link.
    out_dir: str = str(DEFAULT_OUT)
    # Which of the study's models to train.
    models: tuple[str, ...] = MODEL_NAMES
    # Also score your own trained Keras model, NAME=PATH.keras (repeatable; contract in
    # `pipeline.modeling.external`).
    external: tuple[str, ...] = ()
    # Backbone weights: "imagenet" (the Keras download), a .weights.h5 path, or "hub:HANDLE".
    weights: str = "imagenet"
    # Seed of the split, the initialisation and the data order.
    seed: int = 1337
    # Which repeat of the training this run is (`train --repeats K` makes repeats 0 to K-1):
    # 0 trains with --seed itself, repeat k with a seed derived from --seed and k. The split
    # is the same in every repeat; only the training randomness changes.
    repeat: int = 0
    # Share of the photos kept for validation.
    val_fraction: float = 0.2
    # Tune without the validation photos: score this share of the training photos instead and
    # leave the validation photos out (e.g. 0.15; 0 is a normal run).
    dev_fraction: float = 0.0
    # Train on at most N photos per class (a deterministic subset; none: every photo).
    max_per_class: int | None = None
    # File listing relative photo paths to leave out (a suspects CSV works).
    exclude_file: str | None = None
    # Keep near-duplicate photos (re-encoded, resized, cropped copies: docs/data-review.md)
    # on one side of the split, as identical photos are; off keeps results comparable.
    dedupe_near: bool = False
    # Training batch size.
    batch_size: int = 64
    # Batch for feature extraction and evaluation only. MobileNetV2 at 224px on 2 cores: 16
    # images per call run at ~73 images/s, 64 at ~54 (cache effects).
    inference_batch_size: int = 16
    # Input size of the CNNs, in pixels.
    cnn_input_size: int = 96
    # How the CNNs' input size is settled: "photo-size" never upscales past the photos'
    # typical side (their median shorter side; 32 px at least), since on small photos
    # upscaling cost time for no accuracy (docs/data-and-models.md); "fixed" always uses
    # --cnn-input-size. The run's config records the size it settled on.
    cnn_size_rule: str = "photo-size"
    # Filters of the CNNs' first conv; each later conv doubles them.
    cnn_width: int = 32
    # Input size of the MobileNetV2s, in pixels.
    mobilenet_input_size: int = 224
    # Epochs of each CNN. Chosen on a dev split carved from the training photos
    # (docs/results.md): 14 epochs with flip averaging fits well inside 1.5x the old cost.
    cnn_epochs: int = 14
    # Peak learning rate of the CNNs (warm-up, then cosine decay): 6e-3 beat 3e-3 by 1.2-1.5
    # dev points.
    cnn_learning_rate: float = 6e-3
    # Share of the CNNs' training photos drawn, afresh each epoch, from a second cache of the
    # same photos resized the TensorFlow way (bilinear, no antialiasing), so a model answers
    # the same whichever way a user resizes.
    cnn_resize_mix: float = 0.5
    # The CNNs answer with the mean logit of each photo and its mirror image, inside the saved
    # model (`pipeline.modeling.flip_views`): no training cost, twice the inference work.
    cnn_flip_average: bool = True
    # The CNNs' head reads each last-layer feature's maximum over the photo beside its mean
    # (global max and average pooling, concatenated). Chosen on the dev split.
    cnn_max_pool: bool = True
    # The CNNs' training arithmetic: "auto" is bfloat16 mixed precision on CPUs with native
    # bfloat16, else float32. A run records what it used.
    precision: str = "auto"
    # The engine of every forward-only pass (extraction, scoring, robustness): "auto" is ONNX
    # Runtime where installed, else OpenVINO, else TensorFlow (`pipeline.modeling.engine`). It
    # is not part of the run's identity: all give the same answers within 1e-4.
    inference: str = "auto"
    # Epochs of the frozen MobileNetV2's head.
    frozen_epochs: int = 10
    # Learning rate of the frozen MobileNetV2's head.
    frozen_learning_rate: float = 1e-3
    # Epochs of fine-tuning, after the frozen epochs.
    finetune_epochs: int = 3
    # Learning rate of fine-tuning.
    finetune_learning_rate: float = 1e-5
    # Base layers fine-tuning unfreezes, counted from the top (BatchNorm stays frozen).
    finetune_layers: int = 30
    # Dropout before every model's output layer.
    dropout: float = 0.3
    # How the frozen head trains: "features" on cached pooled features (fast), "end-to-end"
    # with every photo through the frozen base every epoch (with augmentation).
    frozen_mode: str = "features"
    # Cached views per training photo: 1 = as is, 2 = plus a mirrored copy.
    feature_views: int = 1
    # Validation photos each model is scored on under every corruption (0: none).
    robustness_photos: int = 160
    # Download location of the Keras ImageNet weights (tests point it at file://).
    imagenet_base_url: str = (
        "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/"
    )

    @property
    def training_seed(self) -> int:
        """The seed of initialisation, data order, dropout and augmentation."""
        if self.repeat == 0:
            return self.seed
        digest = hashlib.sha256(f"repeat:{self.seed}:{self.repeat}".encode()).digest()
        return int.from_bytes(digest[:4], "big") % 2**31

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["models"] = list(self.models)
        data["external"] = list(self.external)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> RunConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        for key in ("models", "external"):
            if key in values:
                values[key] = tuple(values[key])
        return cls(**values)

    def fingerprint(self) -> str:
        """Short hash of the settings that determine the trained models: not where the photos
        are read from or the outputs written (the photos themselves are fingerprinted), nor
        how many photos the robustness analysis scores (it trains nothing)."""
        data = self.to_dict()
        data.pop("out_dir")
        data.pop("data_dir")
        data.pop("robustness_photos")
        data.pop("inference")
        if not data["dedupe_near"]:  # off: the same identity as before the setting existed
            data.pop("dedupe_near")
        return json_sha256(data)[:8]

    def absolute(self) -> RunConfig:
        """The same settings with every path absolute: a Ray worker on another node does not
        share this process's working directory."""
        import os

        def located(path: str | None) -> str | None:
            return os.path.abspath(path) if path else path

        external = tuple(
            f"{name}={located(path)}" if sep else item
            for item in self.external
            for name, sep, path in [item.partition("=")]
        )
        return self.replace(
            data_dir=located(self.data_dir),
            out_dir=located(self.out_dir),
            exclude_file=located(self.exclude_file),
            external=external,
        )

    def replace(self, **changes) -> RunConfig:
        return dataclasses.replace(self, **changes)


PROFILES: dict[str, dict] = {
    # A few thousand images, 1-2 epochs per model: a smoke run in minutes.
    "quick": dict(
        max_per_class=1500,
        cnn_epochs=2,
        frozen_epochs=2,
        finetune_epochs=1,
        feature_views=1,
    ),
    # All images and the reference's epochs (10 frozen + 3 fine-tune).
    "full": dict(),
}


# Fields with a closed set of values: the command line offers them, `validate` checks them.
CHOICES: dict[str, tuple] = {
    "profile": tuple(sorted(PROFILES)),
    "models": MODEL_NAMES,
    "precision": PRECISIONS,
    "inference": INFERENCE_CHOICES,
    "frozen_mode": ("features", "end-to-end"),
    "feature_views": (1, 2),
    "cnn_size_rule": ("photo-size", "fixed"),
}


def make_config(profile: str = "full", **overrides) -> RunConfig:
    """The profile's defaults with `overrides` (None values are ignored) applied."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose from {sorted(PROFILES)}")
    values = dict(PROFILES[profile], profile=profile)
    values.update({k: v for k, v in overrides.items() if v is not None})
    config = RunConfig(**values)
    validate(config)
    return config


def validate(config: RunConfig) -> None:
    if not config.models and not config.external:
        raise ValueError("nothing to do: no --models and no --external model")
    unknown = [m for m in config.models if m not in MODEL_NAMES]
    if unknown:
        raise ValueError(f"unknown model(s) {unknown}; choose from {list(MODEL_NAMES)}")
    if config.max_per_class is not None and config.max_per_class < 1:
        raise ValueError(
            f"--max-per-class must be at least 1 (got {config.max_per_class}); "
            "leave it out to use every photo"
        )
    if not 0.0 < config.val_fraction < 1.0:
        raise ValueError("--val-fraction must be between 0 and 1")
    if not 0.0 <= config.dev_fraction < 1.0:
        raise ValueError("--dev-fraction must be 0 (none) or between 0 and 1")
    if config.frozen_mode not in CHOICES["frozen_mode"]:
        raise ValueError("--frozen-mode must be 'features' or 'end-to-end'")
    if config.feature_views not in CHOICES["feature_views"]:
        raise ValueError("--feature-views must be 1 or 2")
    if config.repeat < 0:
        raise ValueError("--repeat must be 0 or more")
    if config.cnn_size_rule not in CHOICES["cnn_size_rule"]:
        raise ValueError("--cnn-size-rule must be 'photo-size' or 'fixed'")
    if config.cnn_width < 1:
        raise ValueError("--cnn-width must be at least 1")
    if not 0.0 <= config.cnn_resize_mix <= 1.0:
        raise ValueError("--cnn-resize-mix must be between 0 and 1")
    if config.inference not in INFERENCE_CHOICES:
        raise ValueError(f"--inference must be one of {', '.join(INFERENCE_CHOICES)}")
    if config.precision not in PRECISIONS:
        raise ValueError(f"--precision must be one of {', '.join(PRECISIONS)}")
    if config.robustness_photos < 0:
        raise ValueError("--robustness-photos must be 0 (none) or more")
