"""Likely label errors: out-of-fold probabilities and confident learning find flipped labels,
on generated clusters and on real photos' features (2% of the labels flipped)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.evaluation import label_errors
from pipeline.store import artifacts
from tests.pipeline.evaluation.flipped_labels import flip, flipped_in_top


def _clusters(n_per_class: int, classes: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=4.0, size=(classes, 20))
    labels = np.repeat(np.arange(classes), n_per_class)
    return centres[labels] + rng.normal(size=(len(labels), 20)), labels


def test_flipped_labels_of_separable_clusters_are_the_issues_found_first():
    features, labels = _clusters(100, classes=3)
    noisy, rows = flip(labels, 6, classes=3, seed=1)
    p = label_errors.out_of_fold(features, noisy, num_classes=3, folds=5, seed=0)
    assert p.shape == (300, 3) and np.allclose(p.sum(axis=1), 1)
    ranked = label_errors.ranked_issues(noisy, p)
    # Confident learning estimates how many labels each class lost; on 100 photos a class
    # that estimate may be one short, never a clean photo.
    assert set(ranked) <= set(rows) and len(ranked) >= 5
    assert (p[rows].argmax(axis=1) == labels[rows]).all()  # and the true class is suggested


def test_the_table_ranks_the_issues_with_the_path_first():
    features, labels = _clusters(40, classes=2, seed=2)
    noisy, rows = flip(labels, 3, classes=2, seed=3)
    split = pd.DataFrame(
        {
            "path": [f"{'ab'[y]}/{i}.jpg" for i, y in enumerate(labels)],
            "label": noisy,
            "split": ["train", "val"] * 40,
            "sha256": [str(i) for i in range(80)],
        }
    )
    table, summary = label_errors.find(split, features, class_names=["a", "b"], seed=0)
    assert list(table.columns) == label_errors.COLUMNS and table.columns[0] == "path"
    assert set(table.path[:3]) == {split.path[i] for i in rows}
    assert list(table["rank"]) == list(range(1, len(table) + 1))
    assert (table.p_label.diff().dropna() >= 0).all()  # least likely label first
    assert summary["count"] == len(table) == summary["in_training"] + summary["in_validation"]


def test_folds_need_two_photos_of_every_class():
    assert label_errors.folds_for(np.array([0, 0, 1, 1, 1])) == 2
    assert label_errors.folds_for(np.array([0] * 10 + [1] * 10)) == 5
    assert label_errors.folds_for(np.array([0, 1, 1, 1])) == 0
    assert label_errors.folds_for(np.array([1, 1, 1])) == 0  # one class only


@pytest.mark.integration
def test_most_flipped_labels_of_real_photos_rank_near_the_top(real_run):
    flipped, found, top = flipped_in_top(real_run)
    assert flipped == 16 and top == 27
    assert found >= 12, f"{found} of {flipped} flipped labels in the top {top}"


@pytest.mark.integration
def test_a_real_run_records_the_likely_label_errors_of_every_photo(real_run):
    table = real_run.label_issues()
    assert table is not None and (real_run.path / artifacts.LABEL_ISSUES_SUMMARY).is_file()
    split = real_run.split().set_index("path")
    assert set(table.path) <= set(split.index)
    assert (table.label.to_numpy() == split.loc[table.path, "label"].to_numpy()).all()
    assert (table.split.to_numpy() == split.loc[table.path, "split"].to_numpy()).all()
    assert (table.p_label < 0.5).mean() > 0.9  # the label is the unlikely one
