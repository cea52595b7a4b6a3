"""Grad-CAM maps for the dashboard: stored by the pipeline, or computed on the spot."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pipeline.data.images import ImageError, load_rgb, resize_for_model
from pipeline.evaluation import analysis, gradcam
from pipeline.store import artifacts

if TYPE_CHECKING:
    import keras

# model -> {"image", "positive", "negative"} (two classes) or {"image", "predicted", "true",
# "classes": [predicted, true]} (N classes; live answers have no "true").
Maps = dict[str, dict[str, np.ndarray]]


def _maps_of(model: keras.Model, image: np.ndarray, true: int | None) -> dict[str, np.ndarray]:
    """One model's maps for one image (`gradcam.explain_maps`): both classes' for a
    two-class model; for an N-way one its predicted class's, and the true class's when
    `true` is known."""
    labels = None if true is None else np.array([true])
    maps = gradcam.explain_maps(model, image[None].astype(np.float32), labels=labels)
    result = {"image": image, **{kind: m[0] for kind, m in maps.items()}}
    if gradcam.CLASSES in result and true is None:  # a live answer: no true class to show
        del result["true"]
        result[gradcam.CLASSES] = result[gradcam.CLASSES][:1]
    return result


def live(models: dict, pixels: dict[tuple[int, int], np.ndarray], true: int | None = None) -> Maps:
    """Maps of every model Grad-CAM applies to, for one image, given its pixels at each
    model's input size (`true`: the photo's class index, for N-way models' 'true' map)."""
    return {
        name: _maps_of(model, pixels[tuple(model.input_shape[1:3])], true)
        for name, model in models.items()
        if gradcam.explainable(model)
    }


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
    return live(models, pixels, true=true_label(run, path)), "computed now from the photo"


def true_label(run: artifacts.Run, path: str) -> int | None:
    """The class index split.csv gives a photo (None when it is not listed)."""
    split = run.split()
    found = split.label[split.path == path]
    return int(found.iloc[0]) if len(found) else None


def view(maps: Maps, name: str, target: str) -> np.ndarray:
    """The overlay of one model's map for `target` on the image it saw."""
    return gradcam.overlay(maps[name]["image"], maps[name][target])
