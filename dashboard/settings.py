"""Dashboard settings, read from the environment in one place."""

from __future__ import annotations

import os
from pathlib import Path

from pipeline.config import DEFAULT_OUT

ARTIFACTS_ENV = "PETCOMPARE_ARTIFACTS"
# Uploads larger than this are refused (Streamlit's own limit is set in .streamlit/config.toml).
MAX_UPLOAD_BYTES = 20 * 1024 * 1024

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


def label(name: str) -> str:
    return MODEL_LABELS.get(name, name)
