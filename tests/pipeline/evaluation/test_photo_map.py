"""The map of the photos: clusters stay apart, the same rows and seed give the same map, and
a real run's map covers exactly its photos."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.evaluation import photo_map
from pipeline.evaluation.leak_report import run_features
from pipeline.store import artifacts


def _clusters(n: int = 60, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.repeat([0, 1, 2], n)
    centres = rng.normal(scale=6.0, size=(3, 64))
    return centres[labels] + rng.normal(size=(3 * n, 64)), labels


def test_alike_rows_land_together_and_apart_from_the_others():
    features, labels = _clusters()
    xy = photo_map.project(features, seed=0)
    assert xy.shape == (len(labels), 2) and np.isfinite(xy).all()
    centres = np.stack([xy[labels == k].mean(axis=0) for k in range(3)])
    spread = max(np.linalg.norm(xy[labels == k] - centres[k], axis=1).mean() for k in range(3))
    gaps = [np.linalg.norm(centres[a] - centres[b]) for a, b in ((0, 1), (0, 2), (1, 2))]
    assert min(gaps) > 3 * spread


def test_the_same_rows_and_seed_give_the_same_map():
    features, _ = _clusters(seed=1)
    np.testing.assert_array_equal(
        photo_map.project(features, seed=5), photo_map.project(features, seed=5)
    )


def test_a_handful_of_photos_still_gets_a_map():
    assert photo_map.project(np.ones((3, 8)), seed=0).shape == (3, 2)
    split = pd.DataFrame({"path": ["a", "b"], "split": ["train", "val"], "label": [0, 1]})
    table = photo_map.photo_map(split, np.ones((2, 8)), seed=0)
    assert list(table.columns) == photo_map.COLUMNS and list(table.path) == ["a", "b"]


@pytest.mark.integration
def test_a_real_runs_map_covers_exactly_its_photos_and_is_made_again_the_same(real_run):
    stored = pd.read_csv(real_run.path / artifacts.PHOTO_MAP)
    split = real_run.split()
    assert list(stored.path) == list(split.path)
    assert list(stored.split) == list(split.split) and list(stored.label) == list(split.label)
    features = run_features(real_run, real_run.path.parent.parent / artifacts.CACHE)
    seed = real_run.manifest["config"]["seed"]
    again = photo_map.photo_map(split, features, seed=seed)
    np.testing.assert_allclose(again[["x", "y"]], stored[["x", "y"]], atol=1e-3)
