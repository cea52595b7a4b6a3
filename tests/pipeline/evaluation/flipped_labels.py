"""Flip a share of a real run's labels and count how many of them the label-error search
ranks near the top: `python -m tests.pipeline.evaluation.flipped_labels RUN_FOLDER` prints
the figure quoted in docs/data-review.md."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from pipeline.evaluation import label_errors
from pipeline.evaluation.leak_report import run_features
from pipeline.store import artifacts


def flip(labels: np.ndarray, count: int, classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels with `count` of them moved to another class, and which rows were flipped."""
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(labels), count, replace=False)
    flipped = labels.copy()
    flipped[rows] = (labels[rows] + rng.integers(1, classes, count)) % classes
    return flipped, rows


def flipped_in_top(run: artifacts.Run, share: float = 0.02, seed: int = 7) -> tuple[int, int, int]:
    """Flip `share` of a real run's labels; (flipped, of them in the top k, k) where k is
    100 per 3,000 photos."""
    features = run_features(run, run.path.parent.parent / artifacts.CACHE)
    split = run.split()
    labels = split["label"].to_numpy().astype(int)
    classes = len(run.class_names)
    noisy, rows = flip(labels, round(share * len(labels)), classes=classes, seed=seed)
    p = label_errors.out_of_fold(features, noisy, num_classes=classes, folds=5, seed=0)
    top = round(len(labels) * 100 / 3000)
    found = set(label_errors.ranked_issues(noisy, p)[:top].tolist())
    return len(rows), len(found & set(rows.tolist())), top


def main(folder: str) -> None:
    run = artifacts.read_run(Path(folder))
    photos = len(run.split())
    for seed in (7, 8, 9):
        flipped, found, top = flipped_in_top(run, seed=seed)
        print(f"seed {seed}: {found} of {flipped} flipped labels in the top {top} of {photos:,}")


if __name__ == "__main__":
    main(sys.argv[1])
