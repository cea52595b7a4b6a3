"""Grad-CAM maps for the dashboard: stored ones, computed ones, and a clear miss."""

import copy

import numpy as np

from dashboard import explain
from pipeline.evaluation import analysis
from pipeline.modeling import saved_models
from pipeline.store import artifacts


def _loader(run):
    def load():
        return {n: saved_models.load(run.model_path(n)) for n in run.model_names()}

    return load


def test_stored_maps_are_used_when_the_pipeline_made_them(real_run):
    path = analysis.photos_to_explain(real_run)[0]
    maps = explain.stored(real_run, path)
    assert set(maps) == set(real_run.model_names())
    overlay = explain.view(maps, "cnn3", "positive")
    assert overlay.shape == (*maps["cnn3"]["image"].shape[:2], 3) and overlay.dtype == np.uint8


def test_other_photos_are_explained_from_disk(real_run):
    stored = set(analysis.photos_to_explain(real_run))
    val = real_run.split().query("split == 'val'")
    path = next(p for p in val.path if p not in stored)
    assert explain.stored(real_run, path) is None
    maps, source = explain.from_photo(real_run, path, _loader(real_run))
    assert source == "computed now from the photo"
    for name in real_run.model_names():
        size = tuple(real_run.model_record(name)["input_size"])
        assert maps[name]["image"].shape == (*size, 3)
        assert maps[name]["positive"].shape == size


def test_a_photo_neither_stored_nor_on_disk_gets_a_reason(real_run, tmp_path):
    manifest = copy.deepcopy(real_run.manifest)
    manifest["dataset"]["root"] = str(tmp_path / "gone")
    run = artifacts.Run(real_run.path, manifest)
    stored = set(analysis.photos_to_explain(real_run))
    path = next(p for p in real_run.split().path if p not in stored)
    maps, source = explain.from_photo(run, path, _loader(real_run))
    assert maps is None and "not at" in source
