"""A run's near-duplicates: leaks from training into validation, groups within each side,
and every model's accuracy on the validation photos that have no near-twin in training.

Made from the pooled MobileNetV2 features the run cached and a 16x16 colour thumbnail of
each photo, so it costs blocked matrix products and one decode per photo, no model. A run
that trained no MobileNetV2 on cached features has none; `review` then returns None.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.data.images import ImageError, load_rgb
from pipeline.evaluation import near_duplicates as nd
from pipeline.evaluation import stats
from pipeline.modeling.features import recorded_pooled
from pipeline.store import artifacts

REPORT_VERSION = 1
MAX_GROUP_EXAMPLES = 200  # groups listed per side (all are counted)


def _accuracy(correct: np.ndarray) -> dict:
    k, n = int(correct.sum()), len(correct)
    return {
        "n": n,
        "correct": k,
        "accuracy": k / n if n else None,
        "accuracy_ci95": list(stats.wilson_interval(k, n)) if n else None,
    }


def accuracy_without(run: artifacts.Run, leaked: set[str]) -> dict[str, dict]:
    """Per model: accuracy on every validation photo, on those not in `leaked`, and on the
    leaked ones alone (each with its Wilson interval)."""
    result = {}
    for name in run.model_names():
        frame = run.predictions(name)
        correct = (frame["label"] == frame["predicted"]).to_numpy()
        is_leak = frame["path"].isin(leaked).to_numpy()
        result[name] = {
            "all": _accuracy(correct),
            "without_leaks": _accuracy(correct[~is_leak]),
            "leaks_only": _accuracy(correct[is_leak]),
        }
    return result


def run_features(run: artifacts.Run, cache_root: Path) -> np.ndarray | None:
    """The pooled features of every photo of the run, in the order of its split; None when
    the run cached none."""
    hashes = run.split()["sha256"].tolist()
    return recorded_pooled(cache_root, run.manifest.get("caches", []), hashes)


def signatures(root: str, paths: list[str], progress=None) -> np.ndarray:
    """Every photo's pixel signature (`near_duplicates.signature`), read through the one
    loader; a photo that no longer decodes gets a zero row (it matches nothing)."""
    out = np.zeros((len(paths), 3 * nd.SIGNATURE_SIDE**2), dtype=np.float32)
    for i, path in enumerate(paths):
        with contextlib.suppress(ImageError, OSError):
            out[i] = nd.signature(load_rgb(Path(root) / path).image)
        if progress is not None and ((i + 1) % 1000 == 0 or i + 1 == len(paths)):
            progress((i % 1000) + 1)  # the photos read since the last call
    return out


def _side_groups(side: pd.DataFrame, features: np.ndarray, signatures: np.ndarray) -> dict:
    pairs = nd.within(features, signatures)
    found = nd.groups(pairs, len(side))
    paths = side["path"].tolist()
    return {
        "groups": len(found),
        "photos": sum(len(g) for g in found),
        "pairs": len(pairs),
        "examples": [[paths[i] for i in g] for g in found[:MAX_GROUP_EXAMPLES]],
    }


def _leak_rows(val: pd.DataFrame, train: pd.DataFrame, found: list[nd.Match]) -> list[dict]:
    rows = []
    for match in found:
        v, t = val.iloc[match.a], train.iloc[match.b]
        rows.append(
            {
                "val": v["path"],
                "train": t["path"],
                "pixels": round(match.pixels, 5),
                "pooled": round(match.pooled, 5),
                "val_label": int(v["label"]),
                "train_label": int(t["label"]),
            }
        )
    return rows


def review(run: artifacts.Run, features: np.ndarray, root: str, progress=None) -> dict:
    """Find the run's near-duplicates and store them in its near_duplicates.json.
    `features`: the pooled features of every photo, in the order of the run's split
    (`run_features`); `root`: the photos' folder."""
    split = run.split()
    signs = signatures(root, split["path"].tolist(), progress=progress)
    is_val = (split["split"] == "val").to_numpy()
    val, train = split[is_val].reset_index(drop=True), split[~is_val].reset_index(drop=True)
    found = nd.leaks(
        features[is_val],
        features[~is_val],
        val_signatures=signs[is_val],
        train_signatures=signs[~is_val],
    )
    leaks = _leak_rows(val, train, found)
    leaked = {row["val"] for row in leaks}
    result = {
        "version": REPORT_VERSION,
        "rule": {
            "candidates": nd.CANDIDATES,
            "pooled_floor": nd.POOLED_FLOOR,
            "pixel_threshold": nd.PIXEL_THRESHOLD,
            "signature_side": nd.SIGNATURE_SIDE,
        },
        "photos": {"train": len(train), "val": len(val)},
        "leaks": {
            "count": len(leaks),
            "share": len(leaks) / len(val) if len(val) else 0.0,
            "different_label": sum(r["val_label"] != r["train_label"] for r in leaks),
            "pairs": leaks,
        },
        "nearest_pooled": nd.similarity_histogram(
            nd.nearest_similarity(features[is_val], features[~is_val])
        ),
        "within": {
            "train": _side_groups(train, features[~is_val], signs[~is_val]),
            "val": _side_groups(val, features[is_val], signs[is_val]),
        },
        "models": accuracy_without(run, leaked),
    }
    artifacts.write_json(run.path / artifacts.NEAR_DUPLICATES, result)
    return result
