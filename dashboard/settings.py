"""Dashboard settings, read from the environment in one place."""

from __future__ import annotations

import os
from pathlib import Path

from pipeline.config import DEFAULT_OUT

ARTIFACTS_ENV = "PETCOMPARE_ARTIFACTS"
# Uploads larger than this are refused (Streamlit's own limit, maxUploadSize in
# .streamlit/config.toml, is the same 20 MB of 2**20 bytes).
MAX_UPLOAD_BYTES = 20 * 2**20
# One rerun answers at most this many uploaded photos, and this many pixels in all.
MAX_BATCH_FILES = 8
MAX_BATCH_PIXELS = 120_000_000

# The reference Kaggle notebook's validation accuracies, for the leaderboard.
REFERENCE_ACCURACY = {
    "cnn3": 0.7977,
    "cnn4": 0.8617,
    "mobilenetv2_frozen": 0.9848,
    "mobilenetv2_finetuned": 0.9854,
}
MODEL_LABELS = {
    "cnn3": "CNN-3",
    "cnn4": "CNN-4",
    "mobilenetv2_frozen": "MobileNetV2 frozen",
    "mobilenetv2_finetuned": "MobileNetV2 fine-tuned",
}
CNNS = ("cnn3", "cnn4")
MOBILENETS = ("mobilenetv2_frozen", "mobilenetv2_finetuned")


def artifacts_dir() -> Path:
    return Path(os.environ.get(ARTIFACTS_ENV, str(DEFAULT_OUT)))


def megabytes(n_bytes: int) -> str:
    """Sizes as the uploader states its limit: MB of 2**20 bytes."""
    return f"{n_bytes / 2**20:.1f} MB" if n_bytes % 2**20 else f"{n_bytes // 2**20} MB"


def label(name: str) -> str:
    return MODEL_LABELS.get(name, name)
