"""Loaders of dashboard/data.py that a page uses only in some states, called directly."""

from pathlib import Path

import numpy as np

from dashboard import data
from pipeline.data.images import load_model_input


def test_robustness_photos_are_shown_as_the_model_saw_them_under_the_corruption(real_run):
    photos = real_run.robustness()["photos"][:3]
    size = tuple(real_run.model_record("cnn3")["input_size"])
    seen = data.seen_under_corruption(real_run, "cnn3", "grayscale", [*photos, "Cat/gone.jpg"])
    assert [path for path, _ in seen] == photos  # a photo no longer on disk is left out
    root = Path(real_run.manifest["dataset"]["root"])
    for _, pixels in seen:
        assert pixels.shape == (*size, 3) and pixels.dtype == np.uint8
        assert (pixels[..., 0] == pixels[..., 1]).all() and (pixels[..., 1] == pixels[..., 2]).all()
    # ...while the photos themselves are in colour: the corruption made them grey
    clean = [load_model_input(root / path, size) for path, _ in seen]
    assert any((c[..., 0] != c[..., 1]).any() for c in clean)
