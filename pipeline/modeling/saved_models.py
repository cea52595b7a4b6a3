"""Load a saved .keras model: in safe mode, with this project's own layers known."""

from __future__ import annotations

from pathlib import Path

import keras

from pipeline.modeling import flip_views  # noqa: F401  (registers FlipViews and MeanOfViews)


def load(path: str | Path) -> keras.Model:
    """A model file written by the pipeline (or a user's), never running arbitrary code."""
    return keras.models.load_model(path, safe_mode=True)
