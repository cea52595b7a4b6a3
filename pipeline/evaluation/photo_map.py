"""A map of every photo of a run: its pooled MobileNetV2 features projected to two dimensions.

PCA first takes the 1,280 features to `PCA_DIMENSIONS` (it keeps most of the variance and
makes the neighbour search cheap), then t-SNE (openTSNE's FFT-accelerated version) lays the
photos out so that photos with alike features sit together. Why t-SNE by openTSNE rather than
UMAP or scikit-learn's t-SNE, and what each cost on the full PetImages set, is in
docs/data-review.md. A fixed seed gives the same map for the same run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA

from pipeline.store import artifacts

PCA_DIMENSIONS = 50
PERPLEXITY = 30.0
# Barnes-Hut on one thread below this many photos, FFT-interpolated gradients on two from it
# on: measured in docs/data-review.md (two threads made small maps 20x slower, large ones
# 1.6x faster).
FFT_FROM = 10_000
MAP_VERSION = 1
COLUMNS = ["path", "split", "label", "x", "y"]


def project(features: np.ndarray, *, seed: int) -> np.ndarray:
    """(n, 2) coordinates of the rows of `features`, the same for the same rows and seed."""
    from openTSNE import TSNE  # imported by the analysis only

    n = len(features)
    if n < 4:  # too few photos for neighbours: lay them on a line
        return np.column_stack([np.arange(n, dtype=np.float32), np.zeros(n, np.float32)])
    dims = min(PCA_DIMENSIONS, n - 1, features.shape[1])
    reduced = PCA(dims, random_state=seed).fit_transform(np.asarray(features, np.float32))
    large = n >= FFT_FROM
    tsne = TSNE(
        n_components=2,
        perplexity=min(PERPLEXITY, (n - 1) / 3),
        random_state=seed,
        n_jobs=2 if large else 1,
        negative_gradient_method="fft" if large else "bh",
        verbose=False,
    )
    return np.asarray(tsne.fit(reduced), dtype=np.float32)


def photo_map(split: pd.DataFrame, features: np.ndarray, *, seed: int) -> pd.DataFrame:
    """Every photo of `split` (rows aligned with `features`) with its map coordinates."""
    xy = project(features, seed=seed)
    return pd.DataFrame(
        {
            "path": split["path"].to_numpy(),
            "split": split["split"].to_numpy(),
            "label": split["label"].to_numpy().astype(int),
            "x": xy[:, 0].round(4),
            "y": xy[:, 1].round(4),
        },
        columns=COLUMNS,
    )


def record(run: artifacts.Run, features: np.ndarray) -> pd.DataFrame:
    """Make the map of every photo of `run` (features aligned with its split) and store it
    as photo_map.csv; the run's own seed fixes it."""
    seed = int((run.manifest.get("config") or {}).get("seed", 0))
    table = photo_map(run.split(), features, seed=seed)
    artifacts.write_csv(run.path / artifacts.PHOTO_MAP, table)
    return table
