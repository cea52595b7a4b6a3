"""A run's comparison analysis: significance, ranking curves, calibration, efficiency, suspects.

Everything here is computed from the stored validation predictions and the
manifest, so it can be (re)made for any finished run without retraining:
`python -m pipeline analyze RUN`. Grad-CAM maps for a few photos need the
models and the photos and are made by `explain_photos`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from pipeline.data.images import ImageError, load_rgb, resize_for_model
from pipeline.environment import cpu_description
from pipeline.evaluation import calibration, gradcam, stats
from pipeline.modeling.predict import logits_from_probabilities
from pipeline.store import artifacts

# 2: top-label ECE, temperature fitted on stored logits.
ANALYSIS_VERSION = 2
# A photo is a suspect label when every model gives the other class at least this probability.
SUSPECT_CONFIDENCE = 0.9
CURVE_POINTS = 200
EXPLAIN_PER_MODEL = 4
EXPLAIN_SUSPECTS = 12


def model_logits(frame: pd.DataFrame) -> pd.Series:
    """A model's stored logits; for runs stored before the `logit` column existed, logits
    recovered from P(dog), which loses the size of saturated predictions."""
    if "logit" in frame:
        return frame["logit"].astype(float)
    return pd.Series(logits_from_probabilities(frame["p_dog"]), index=frame.index)


def wide_predictions(predictions: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per validation photo: path, label, and P(dog), logit, prediction and 'wrong'
    per model."""
    wide = None
    for name, frame in predictions.items():
        columns = {"p_dog": f"p_{name}", "logit": f"logit_{name}", "predicted": f"pred_{name}"}
        part = frame.assign(logit=model_logits(frame))[["path", "label", *columns]]
        part = part.rename(columns=columns)
        wide = part if wide is None else wide.merge(part, on=["path", "label"], how="outer")
    if wide is None:
        return pd.DataFrame(columns=["path", "label"])
    for name in predictions:
        wide[f"wrong_{name}"] = wide[f"pred_{name}"] != wide["label"]
    return wide


def _thin(values: np.ndarray, keep: np.ndarray) -> list[float]:
    return [float(v) for v in np.asarray(values)[keep]]


def _keep(n: int, max_points: int) -> np.ndarray:
    return np.unique(np.linspace(0, n - 1, min(n, max_points)).round().astype(int))


def ranking_curves(labels: np.ndarray, p: np.ndarray, max_points: int = CURVE_POINTS) -> dict:
    """ROC and precision-recall curves (thinned to `max_points`), ROC AUC, average precision."""
    fpr, tpr, roc_t = skm.roc_curve(labels, p)
    precision, recall, pr_t = skm.precision_recall_curve(labels, p)
    roc_keep, pr_keep = _keep(len(fpr), max_points), _keep(len(recall), max_points)
    return {
        "roc": {
            "fpr": _thin(fpr, roc_keep),
            "tpr": _thin(tpr, roc_keep),
            "threshold": _thin(np.minimum(roc_t, 1.0), roc_keep),
        },
        "pr": {
            "precision": _thin(precision, pr_keep),
            "recall": _thin(recall, pr_keep),
            "threshold": _thin(np.append(pr_t, 1.0), pr_keep),
        },
        "roc_auc": float(skm.roc_auc_score(labels, p)),
        "average_precision": float(skm.average_precision_score(labels, p)),
    }


def pareto_front(
    accuracy: list[float],
    cost: list[float],
    low: list[float] | None = None,
    high: list[float] | None = None,
) -> list[bool]:
    """True for points no other point beats beyond the cost's noise.

    `low`/`high` bound each cost's noise (latency: its interquartile range). Model j
    beats model i when j is at least as accurate, not measurably costlier (j's low
    is not above i's high), and better on one of the two: more accurate, or
    measurably cheaper (j's high below i's low). Without bounds this is the plain
    Pareto front.
    """
    low = low or cost
    high = high or cost
    flags = []
    for i in range(len(accuracy)):
        beaten = any(
            accuracy[j] >= accuracy[i]
            and low[j] <= high[i]
            and (accuracy[j] > accuracy[i] or high[j] < low[i])
            for j in range(len(accuracy))
            if j != i
        )
        flags.append(not beaten)
    return flags


def efficiency(records: list[dict], latency: dict[str, dict] | None = None) -> list[dict]:
    """Accuracy against one-image latency and file size, with the latency frontier and the
    extra milliseconds each frontier step pays per point of accuracy.

    `latency` (from `pipeline.evaluation.latency.measure`) gives each model's median and
    interquartile range; without it, the single timing taken at evaluation is used.
    """
    latency = latency or {}
    rows = []
    for r in records:
        timed = latency.get(r["name"])
        median = timed["median_ms"] if timed else r["metrics"].get("latency_ms")
        rows.append(
            {
                "name": r["name"],
                "accuracy": r["metrics"]["accuracy"],
                "latency_ms": median,
                "latency_q1_ms": timed["q1_ms"] if timed else median,
                "latency_q3_ms": timed["q3_ms"] if timed else median,
                "size_mb": r.get("size_bytes", 0) / 1e6,
                "params": r["params"],
            }
        )
    timed = [row for row in rows if row["latency_ms"] is not None]
    flags = pareto_front(
        [r["accuracy"] for r in timed],
        [r["latency_ms"] for r in timed],
        [r["latency_q1_ms"] for r in timed],
        high=[r["latency_q3_ms"] for r in timed],
    )
    for row, flag in zip(timed, flags, strict=True):
        row["on_frontier"] = flag
    frontier = sorted((r for r in timed if r["on_frontier"]), key=lambda r: r["latency_ms"])
    for previous, row in zip(frontier, frontier[1:], strict=False):
        gained = (row["accuracy"] - previous["accuracy"]) * 100
        if gained > 0:
            row["ms_per_point"] = (row["latency_ms"] - previous["latency_ms"]) / gained
    return rows


def suspects(
    wide: pd.DataFrame, names: list[str], min_confidence: float = SUSPECT_CONFIDENCE
) -> pd.DataFrame:
    """Photos every model assigns to the other class with at least `min_confidence`.

    Columns: path, label, then P(dog) per model and the lowest of the models'
    confidences in the other class. The `path` column first makes the CSV usable
    as `--exclude-file` as is.
    """
    columns = ["path", "label", *[f"p_{n}" for n in names], "min_confidence_other"]
    if not names:
        return pd.DataFrame(columns=columns)
    p = wide[[f"p_{n}" for n in names]].to_numpy(float)
    labels = wide["label"].to_numpy()[:, None]
    other = np.where(labels == 1, 1 - p, p)  # each model's probability of the other class
    floor = other.min(axis=1)
    chosen = wide[floor >= min_confidence].copy()
    chosen["min_confidence_other"] = floor[floor >= min_confidence]
    return chosen[columns].sort_values("min_confidence_other", ascending=False)


def analyze(run: artifacts.Run, latency: dict[str, dict] | None = None) -> dict:
    """Compute the analysis of a finished run's models and store it in the run.

    `latency`: each model's repeated one-image timings (`pipeline.evaluation.latency.measure`),
    stored with the CPU they were measured on.
    """
    names = run.model_names()
    predictions = {n: run.predictions(n) for n in names}
    wide = wide_predictions(predictions)
    labels = wide["label"].to_numpy().astype(int)
    correct = {n: ~wide[f"wrong_{n}"].to_numpy(bool) for n in names}
    per_model = {}
    for n in names:
        p = wide[f"p_{n}"].to_numpy(float)
        k = int(correct[n].sum())
        per_model[n] = {
            "n": len(labels),
            "correct": k,
            "accuracy": k / len(labels),
            "accuracy_ci95": list(stats.wilson_interval(k, len(labels))),
            "curves": ranking_curves(labels, p),
            "calibration": calibration.calibration_report(
                labels, wide[f"logit_{n}"].to_numpy(float)
            ),
        }
    result = {
        "version": ANALYSIS_VERSION,
        "models": names,
        "per_model": per_model,
        "mcnemar": stats.pairwise_mcnemar(correct),
        "agreement": stats.agreement_matrix({n: wide[f"pred_{n}"].to_numpy() for n in names}),
        "efficiency": efficiency(run.model_records(), latency),
        "suspects": {"min_confidence": SUSPECT_CONFIDENCE},
    }
    if latency:
        result["latency"] = {"per_model": latency, "machine": cpu_description()}
    found = suspects(wide, names)
    result["suspects"]["count"] = len(found)
    artifacts.write_csv(run.path / artifacts.SUSPECTS, found)
    artifacts.write_json(run.path / artifacts.ANALYSIS, result)
    return result


def photos_to_explain(run: artifacts.Run) -> list[str]:
    """Suspect labels first, then each model's most confident mistakes."""
    chosen: list[str] = []
    found = run.suspects()
    if found is not None:
        chosen += found.path.head(EXPLAIN_SUSPECTS).tolist()
    for name in run.model_names():
        chosen += run.misclassified(name).path.head(EXPLAIN_PER_MODEL).tolist()
    return list(dict.fromkeys(chosen))


def explain_photos(
    run: artifacts.Run,
    root: str,
    paths: list[str],
    *,
    models: dict | None = None,
    explain: Callable | None = None,
    progress=None,
) -> int:
    """Store, per photo, each model's input pixels and Grad-CAM maps for both classes.

    `models`: name -> loaded Keras model, explained here; or `explain(paths, progress)`, which
    returns the same arrays computed elsewhere (the workflow passes the Ray engine's). Models
    Grad-CAM cannot explain (a TF Hub base) and photos missing from `root` are skipped.
    Returns how many photos were explained.
    """
    photos = {}  # each photo decoded once, then resized for each model's input size
    for path in paths:
        try:
            photos[path] = load_rgb(Path(root) / path).image
        except (ImageError, OSError):
            continue
    if not photos:
        return 0
    if explain is None:
        arrays = _explain_here(models or {}, photos, progress)
    else:
        arrays = explain(list(photos), progress)
    folder = run.path / artifacts.GRADCAM
    folder.mkdir(parents=True, exist_ok=True)
    for path, named in arrays.items():
        target = folder / (Path(artifacts.thumb_name(path)).stem + ".npz")
        tmp = target.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, **named)
        tmp.replace(target)
    return len(photos)


def _explain_here(models: dict, photos: dict, progress) -> dict[str, dict[str, np.ndarray]]:
    arrays: dict[str, dict[str, np.ndarray]] = {p: {} for p in photos}
    for name, model in models.items():
        if not gradcam.explainable(model):
            continue
        size = tuple(model.input_shape[1:3])
        images = np.stack([resize_for_model(image, size) for image in photos.values()])
        maps = gradcam.gradcam_pair(model, images.astype(np.float32))
        for i, path in enumerate(photos):
            arrays[path][f"{name}__image"] = images[i]
            for target, heat in maps.items():
                arrays[path][f"{name}__{target}"] = heat[i].astype(np.float16)
        if progress is not None:
            progress(1)
    return arrays


def read_explanation(file: Path) -> dict[str, dict[str, np.ndarray]]:
    """model name -> {"image", "positive", "negative"} from a stored .npz."""
    result: dict[str, dict[str, np.ndarray]] = {}
    with np.load(file) as data:
        for key in data.files:
            name, kind = key.split("__", 1)
            result.setdefault(name, {})[kind] = data[key].astype(
                np.uint8 if kind == "image" else np.float32
            )
    return result
