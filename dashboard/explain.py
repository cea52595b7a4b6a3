"""Grad-CAM maps for the dashboard: stored by the pipeline, or computed on the spot."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline import analysis, artifacts, gradcam
from pipeline.images import ImageError, load_model_input

Maps = dict[str, dict[str, np.ndarray]]  # model -> {"image", "positive", "negative"}


def live(models: dict, pixels: dict[tuple[int, int], np.ndarray]) -> Maps:
    """Maps of every model for one image, given its pixels at each model's input size."""
    result: Maps = {}
    for name, model in models.items():
        size = tuple(model.input_shape[1:3])
        batch = pixels[size][None].astype(np.float32)
        result[name] = {"image": pixels[size]}
        for target in gradcam.TARGETS:
            result[name][target] = gradcam.gradcam(model, batch, target)[0]
    return result


def for_validation_photo(run: artifacts.Run, path: str, load_models) -> tuple[Maps | None, str]:
    """Stored maps if the pipeline made them, else computed from the photo if it is on disk.

    `load_models()` is called only when maps must be computed. Returns (maps, where from).
    """
    stored = run.gradcam_of(path)
    if stored is not None:
        return analysis.read_explanation(stored), "stored by the pipeline"
    photo = Path(run.manifest["dataset"]["root"]) / path
    try:
        models = load_models()
        pixels = {
            tuple(m.input_shape[1:3]): load_model_input(photo, tuple(m.input_shape[1:3]))
            for m in models.values()
        }
    except (ImageError, OSError):
        return None, f"the photo is not at {photo}, and no stored maps exist for it"
    return live(models, pixels), "computed now from the photo"


def view(maps: Maps, name: str, target: str) -> np.ndarray:
    """The overlay of one model's map for `target` on the image it saw."""
    return gradcam.overlay(maps[name]["image"], maps[name][target])
