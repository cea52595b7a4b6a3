"""Dashboard settings, read from the environment in one place; and the wording that names
the run's own data and classes."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path, PurePath

from pipeline.config import DEFAULT_OUT
from pipeline.registry import spec

ARTIFACTS_ENV = "PETCOMPARE_ARTIFACTS"
# The engine of the live page's answers, as the pipeline's --inference: auto (ONNX Runtime,
# else OpenVINO, where installed), tensorflow, onnxruntime or openvino.
INFERENCE_ENV = "PETCOMPARE_INFERENCE"
# Uploads larger than this are refused (Streamlit's own limit, maxUploadSize in
# .streamlit/config.toml, is the same 20 MB of 2**20 bytes).
MAX_UPLOAD_BYTES = 20 * 2**20
# One rerun answers at most this many uploaded photos, and this many pixels in all.
MAX_BATCH_FILES = 8
MAX_BATCH_PIXELS = 120_000_000


def megabytes(n_bytes: int) -> str:
    """Sizes as the uploader states its limit: MB of 2**20 bytes."""
    return f"{n_bytes / 2**20:.1f} MB" if n_bytes % 2**20 else f"{n_bytes // 2**20} MB"


def artifacts_dir() -> Path:
    return Path(os.environ.get(ARTIFACTS_ENV, str(DEFAULT_OUT)))


def inference() -> str:
    return os.environ.get(INFERENCE_ENV, "auto")


def label(name: str) -> str:
    return spec(name).label


# --- Wording: the run's own data and classes, never a fixed pair of them -----------------

NEUTRAL_TITLE = "Image classifiers compared"  # the browser title with no run to name
PAGE_ICON = ":material/compare:"
# The shared MobileNetV2 weights file (about the weights, whatever the run's data).
WEIGHTS_FILE_NOTE = (
    "Local weights file: see its README for what it is (ImageNet backbone whose top "
    "blocks saw extra dog photos), not byte-identical with Keras' ImageNet download."
)


def negative_name(classes: Sequence[str]) -> str:
    """The class of label 0 (the first of the sorted folder names)."""
    return classes[0]


def positive_name(classes: Sequence[str]) -> str:
    """The class of label 1, whose probability every model outputs (stored as `p_dog`)."""
    return classes[1]


def p_of(class_name: str) -> str:
    """How a probability of a class is shown: 'P(tulips)' for the class 'tulips'."""
    return f"P({class_name})"


def p_positive(classes: Sequence[str]) -> str:
    """The column name of the models' output, P(<positive class>)."""
    return p_of(positive_name(classes))


def data_folder(manifest: dict) -> str:
    """The name of the run's data folder ('PetImages'); '' when the manifest has none."""
    root = (manifest.get("dataset") or {}).get("root")
    return PurePath(str(root)).name if root else ""


# An N-class title names at most this many classes, and each at most this many characters.
TITLE_CLASSES = 3
TITLE_CLASS_CHARS = 24


def short(text: str, limit: int = TITLE_CLASS_CHARS) -> str:
    """`text`, cut to `limit` characters with an ellipsis when longer."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def classes_text(classes: Sequence[str], shown: int = TITLE_CLASSES) -> str:
    """'roses vs tulips' for two classes; '10 classes (airplane, automobile, bird, …)'."""
    if len(classes) == 2:
        return f"{negative_name(classes)} vs {positive_name(classes)}"
    names = ", ".join(short(c) for c in classes[:shown])
    return f"{len(classes)} classes ({names}{', …' if len(classes) > shown else ''})"


def data_title(manifest: dict | None) -> str:
    """The browser title for a run: 'flowers: roses vs tulips, 4 models compared',
    'cifar10: 10 classes (airplane, automobile, bird, …), 2 models compared'; a neutral one
    without a run (or with a manifest that does not name at least two classes)."""
    classes = ((manifest or {}).get("dataset") or {}).get("class_names") or []
    if len(classes) < 2:
        return NEUTRAL_TITLE
    folder = data_folder(manifest)
    text = f"{folder}: " if folder else ""
    text += f"{classes_text(classes)}, "
    n = len(manifest.get("planned_models") or manifest.get("models") or [])
    return text + (f"{n} model{'' if n == 1 else 's'} compared" if n else "classifiers compared")
