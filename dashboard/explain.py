"""Grad-CAM maps for the dashboard: stored by the pipeline, or computed on the spot."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.data.images import ImageError, load_rgb, resize_for_model
from pipeline.evaluation import analysis, gradcam
from pipeline.store import artifacts

Maps = dict[str, dict[str, np.ndarray]]  # model -> {"image", "positive", "negative"}


def live(models: dict, pixels: dict[tuple[int, int], np.ndarray]) -> Maps:
    """Maps of every model Grad-CAM applies to, for one image, given its pixels at each
    model's input size."""
    result: Maps = {}
    for name, model in models.items():
        if not gradcam.explainable(model):
            continue
        size = tuple(model.input_shape[1:3])
        batch = pixels[size][None].astype(np.float32)
        maps = gradcam.gradcam_pair(model, batch)
        result[name] = {"image": pixels[size], **{t: m[0] for t, m in maps.items()}}
    return result


def stored(run: artifacts.Run, path: str) -> Maps | None:
    """The maps the pipeline stored for a validation photo, if it did."""
    file = run.gradcam_of(path)
    return analysis.read_explanation(file) if file is not None else None


def from_photo(run: artifacts.Run, path: str, load_models) -> tuple[Maps | None, str]:
    """Maps computed now from the photo on disk; (None, why) when it is not there.

    `load_models()` gives name -> loaded model.
    """
    photo = Path(run.manifest["dataset"]["root"]) / path
    try:
        image = load_rgb(photo).image
    except (ImageError, OSError):
        return None, f"the photo is not at {photo}, and the pipeline stored no maps for it"
    models = load_models()
    sizes = {tuple(m.input_shape[1:3]) for m in models.values()}
    pixels = {size: resize_for_model(image, size) for size in sizes}
    return live(models, pixels), "computed now from the photo"


def view(maps: Maps, name: str, target: str) -> np.ndarray:
    """The overlay of one model's map for `target` on the image it saw."""
    return gradcam.overlay(maps[name]["image"], maps[name][target])
