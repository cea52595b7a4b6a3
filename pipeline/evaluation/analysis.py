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
from pipeline.store import artifacts
from pipeline.store.predictions import (
    BINARY_P,
    as_matrix,
    is_binary,
    logits_of,
    probabilities_of,
)

# 2: top-label ECE, temperature fitted on stored logits.
ANALYSIS_VERSION = 2
# A photo is a suspect label when every model gives the same other class at least this
# probability.
SUSPECT_CONFIDENCE = 0.9
CURVE_POINTS = 200
EXPLAIN_PER_MODEL = 4
EXPLAIN_SUSPECTS = 12
CONFUSED_PAIRS = 20
# How read_explanation types each stored kind; the maps are float32.
_KIND_TYPES = {"image": np.uint8, gradcam.CLASSES: np.int64}


def _class_names(run: artifacts.Run, predictions: dict[str, pd.DataFrame]) -> list[str]:
    """The run's class names; for a run without a dataset record, read from the prediction
    columns (two classes when they are the `p_dog` ones)."""
    names = run.manifest.get("dataset", {}).get("class_names")
    if names:
        return list(names)
    for frame in predictions.values():
        found = [c[2:] for c in frame.columns if c.startswith("p:")]
        if found and BINARY_P not in frame:
            return found
    return ["0", "1"]


def _model_columns(name: str, class_names: list[str]) -> tuple[list[str], list[str]]:
    """A model's probability and logit columns in the wide frame."""
    if is_binary(class_names):
        return [f"p_{name}"], [f"logit_{name}"]
    return [f"p_{name}:{c}" for c in class_names], [f"logit_{name}:{c}" for c in class_names]


def wide_predictions(
    predictions: dict[str, pd.DataFrame], class_names: list[str] | None = None
) -> pd.DataFrame:
    """One row per validation photo: path, label, and per model its probabilities, logits,
    prediction and 'wrong'.

    Two classes (`class_names` None or two names): `p_<model>` = P(second class) and
    `logit_<model>`. N classes: `p_<model>:<class>` and `logit_<model>:<class>` per class.
    Logits of runs stored before the `logit` column existed are recovered from P(second
    class), which loses the size of saturated predictions."""
    class_names = class_names or ["0", "1"]
    wide = None
    for name, frame in predictions.items():
        p_columns, logit_columns = _model_columns(name, class_names)
        p = probabilities_of(frame, class_names)
        z = logits_of(frame, class_names)
        if is_binary(class_names):
            p, z = p[:, 1:], z[:, 1:]
        part = frame[["path", "label"]].assign(**{f"pred_{name}": frame["predicted"]})
        part[p_columns] = p
        part[logit_columns] = z
        wide = part if wide is None else wide.merge(part, on=["path", "label"], how="outer")
    if wide is None:
        return pd.DataFrame(columns=["path", "label"])
    for name in predictions:
        wide[f"wrong_{name}"] = wide[f"pred_{name}"] != wide["label"]
    return wide


def model_probabilities(wide: pd.DataFrame, name: str, class_names: list[str]) -> np.ndarray:
    """(n, N) class probabilities of one model from the wide frame."""
    p_columns, _ = _model_columns(name, class_names)
    return as_matrix(wide[p_columns[0]]) if is_binary(class_names) else wide[p_columns].to_numpy()


def model_logits(wide: pd.DataFrame, name: str, class_names: list[str]) -> np.ndarray:
    """One model's logits from the wide frame: (n,) z for two classes, (n, N) for more."""
    _, logit_columns = _model_columns(name, class_names)
    if is_binary(class_names):
        return wide[logit_columns[0]].to_numpy(float)
    return wide[logit_columns].to_numpy(float)


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


def per_class_curves(
    labels: np.ndarray, p: np.ndarray, class_names: list[str], max_points: int = CURVE_POINTS
) -> dict[str, dict]:
    """One-vs-rest `ranking_curves` of each class from (n, N) probabilities; a class no
    photo has (or every photo has) has no curve and is left out."""
    labels = np.asarray(labels, int)
    curves = {}
    for i, name in enumerate(class_names):
        positive = (labels == i).astype(int)
        if 0 < positive.sum() < len(positive):
            curves[name] = ranking_curves(positive, p[:, i], max_points)
    return curves


def selective_accuracy(
    correct: np.ndarray, confidence: np.ndarray, max_points: int = CURVE_POINTS
) -> dict[str, list[float]]:
    """Accuracy against coverage: keeping the photos whose top-label confidence is at least
    `confidence`, the share kept and the accuracy on them; one point per distinct confidence,
    thinned to `max_points`, coverage descending from 1.0."""
    correct = np.asarray(correct, float)
    confidence = np.asarray(confidence, float)
    if len(confidence) == 0:
        return {"confidence": [], "coverage": [], "accuracy": []}
    order = np.argsort(-confidence, kind="stable")
    sorted_confidence = confidence[order]
    kept = np.arange(1, len(order) + 1)
    accuracy = np.cumsum(correct[order]) / kept
    # the last photo of each run of equal confidences: a threshold keeps them all or none
    ends = np.flatnonzero(np.append(sorted_confidence[1:] != sorted_confidence[:-1], True))[::-1]
    keep = ends[_keep(len(ends), max_points)]
    return {
        "confidence": _thin(sorted_confidence, keep),
        "coverage": _thin(kept / len(order), keep),
        "accuracy": _thin(accuracy, keep),
    }


def per_class_accuracy(
    labels: np.ndarray, predicted: np.ndarray, class_names: list[str]
) -> dict[str, float | None]:
    """Each class's recall: the share of its photos predicted as it (None: no photo)."""
    labels, predicted = np.asarray(labels, int), np.asarray(predicted, int)
    result: dict[str, float | None] = {}
    for i, name in enumerate(class_names):
        mine = labels == i
        result[name] = float(np.mean(predicted[mine] == i)) if mine.any() else None
    return result


def confused_pairs(
    labels: np.ndarray,
    predicted: dict[str, np.ndarray],
    class_names: list[str],
    top: int = CONFUSED_PAIRS,
) -> list[dict]:
    """The (true, predicted) class pairs the models confuse most, over all models: counts
    per model and in total, off-diagonal pairs with a count only, most first, `top` at most."""
    labels = np.asarray(labels, int)
    k = len(class_names)
    counts = {
        name: np.bincount(labels * k + np.asarray(p, int), minlength=k * k).reshape(k, k)
        for name, p in predicted.items()
    }
    total = sum(counts.values(), np.zeros((k, k), int))
    pairs = [(t, q) for t in range(k) for q in range(k) if t != q and total[t, q] > 0]
    pairs.sort(key=lambda pair: -total[pair])
    return [
        {
            "true": class_names[t],
            "predicted": class_names[q],
            "counts": {name: int(c[t, q]) for name, c in counts.items()},
            "total": int(total[t, q]),
        }
        for t, q in pairs[:top]
    ]


def suspects(
    wide: pd.DataFrame,
    names: list[str],
    min_confidence: float = SUSPECT_CONFIDENCE,
    class_names: list[str] | None = None,
) -> pd.DataFrame:
    """Photos every model puts in the SAME other class with at least `min_confidence`.

    Columns: path, label, suspected (the class index), suspected_class (its name), then
    `p_<model>` per model, and the lowest of the models' probabilities of the suspected
    class. `p_<model>` is that model's probability of the suspected class for N > 2
    classes; for two classes it stays P(second class), as every earlier suspects.csv has
    it. The `path` column first makes the CSV usable as `--exclude-file` as is.
    `class_names` None: two classes (the `wide_predictions` default).
    """
    class_names = class_names or ["0", "1"]
    columns = ["path", "label", "suspected", "suspected_class"]
    columns += [*[f"p_{n}" for n in names], "min_confidence_other"]
    if not names:
        return pd.DataFrame(columns=columns)
    p = np.stack([model_probabilities(wide, n, class_names) for n in names])  # (models, n, N)
    labels = wide["label"].to_numpy().astype(int)
    floors = p.min(axis=0)  # each class's lowest probability over the models
    floors[np.arange(len(labels)), labels] = -np.inf  # only another class can be suspected
    suspected = floors.argmax(axis=1)
    floor = floors[np.arange(len(labels)), suspected]
    chosen = wide[floor >= min_confidence].copy()
    chosen["suspected"] = suspected[floor >= min_confidence]
    chosen["suspected_class"] = [class_names[i] for i in chosen["suspected"]]
    chosen["min_confidence_other"] = floor[floor >= min_confidence]
    if not is_binary(class_names):
        rows = np.flatnonzero(floor >= min_confidence)
        for j, n in enumerate(names):
            chosen[f"p_{n}"] = p[j, rows, suspected[rows]]
    return chosen[columns].sort_values("min_confidence_other", ascending=False)


def _model_analysis(
    labels: np.ndarray, wide: pd.DataFrame, name: str, *, class_names: list[str]
) -> dict:
    """One model's entry of analysis.json's per_model."""
    correct = ~wide[f"wrong_{name}"].to_numpy(bool)
    k, n = int(correct.sum()), len(labels)
    p = model_probabilities(wide, name, class_names)
    mine = {
        "n": n,
        "correct": k,
        "accuracy": k / n,
        "accuracy_ci95": list(stats.wilson_interval(k, n)),
    }
    if is_binary(class_names):
        mine["curves"] = ranking_curves(labels, wide[f"p_{name}"].to_numpy(float))
    else:
        mine["curves_per_class"] = per_class_curves(labels, p, class_names)
    mine["calibration"] = calibration.calibration_report(
        labels, model_logits(wide, name, class_names)
    )
    predicted = wide[f"pred_{name}"].to_numpy(int)
    mine["selective"] = selective_accuracy(correct, p.max(axis=1))
    mine["per_class_accuracy"] = per_class_accuracy(labels, predicted, class_names)
    return mine


def analyze(run: artifacts.Run, latency: dict[str, dict] | None = None) -> dict:
    """Compute the analysis of a finished run's models and store it in the run.

    `latency`: each model's repeated one-image timings (`pipeline.evaluation.latency.measure`),
    stored with the CPU they were measured on.
    """
    names = run.model_names()
    predictions = {n: run.predictions(n) for n in names}
    class_names = _class_names(run, predictions)
    wide = wide_predictions(predictions, class_names)
    labels = wide["label"].to_numpy().astype(int)
    correct = {n: ~wide[f"wrong_{n}"].to_numpy(bool) for n in names}
    predicted = {n: wide[f"pred_{n}"].to_numpy() for n in names}
    result = {
        "version": ANALYSIS_VERSION,
        "class_names": class_names,
        "models": names,
        "per_model": {n: _model_analysis(labels, wide, n, class_names=class_names) for n in names},
        "mcnemar": stats.pairwise_mcnemar(correct),
        "agreement": stats.agreement_matrix(predicted),
        "confused_pairs": confused_pairs(labels, predicted, class_names),
        "efficiency": efficiency(run.model_records(), latency),
        "suspects": {"min_confidence": SUSPECT_CONFIDENCE},
    }
    if latency:
        result["latency"] = {"per_model": latency, "machine": cpu_description()}
    found = suspects(wide, names, class_names=class_names)
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


def photo_labels(run: artifacts.Run, paths: list[str]) -> dict[str, int]:
    """path -> true label of those of `paths` the run's split table (or, without one, a
    model's predictions) records."""
    wanted = set(paths)
    if (run.path / artifacts.SPLIT).is_file():
        frames = [run.split()]
    else:
        names = run.model_names()
        found = [n for n in names if (run.model_dir(n) / artifacts.PREDICTIONS).is_file()]
        frames = [run.predictions(n) for n in found]
    labels: dict[str, int] = {}
    for frame in frames:
        for path, label in zip(frame["path"], frame["label"], strict=True):
            if path in wanted:
                labels.setdefault(path, int(label))
    return labels


def explain_photos(
    run: artifacts.Run,
    root: str,
    paths: list[str],
    *,
    models: dict | None = None,
    explain: Callable | None = None,
    progress=None,
) -> int:
    """Store, per photo, each model's input pixels and Grad-CAM maps: of both classes for a
    two-class model, of the predicted and of the true class for an N-class one
    (`gradcam.explain_maps`; the true labels come from the run).

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
        labels = photo_labels(run, list(photos)) if models else {}
        arrays = _explain_here(models or {}, photos, labels=labels, progress=progress)
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


def stored_maps(name: str, maps: dict[str, np.ndarray], i: int) -> dict[str, np.ndarray]:
    """Photo `i`'s Grad-CAM arrays of model `name`, keyed and typed as the .npz stores them:
    maps as float16, the N-class `classes` ([predicted, true]) as ints."""
    return {
        f"{name}__{kind}": value[i] if kind == gradcam.CLASSES else value[i].astype(np.float16)
        for kind, value in maps.items()
    }


def _explain_here(
    models: dict, photos: dict, *, labels: dict[str, int], progress
) -> dict[str, dict[str, np.ndarray]]:
    arrays: dict[str, dict[str, np.ndarray]] = {p: {} for p in photos}
    true = np.array([labels.get(p, -1) for p in photos], int)
    for name, model in models.items():
        if not gradcam.explainable(model):
            continue
        size = tuple(model.input_shape[1:3])
        images = np.stack([resize_for_model(image, size) for image in photos.values()])
        maps = gradcam.explain_maps(model, images.astype(np.float32), true)
        for i, path in enumerate(photos):
            arrays[path][f"{name}__image"] = images[i]
            arrays[path] |= stored_maps(name, maps, i)
        if progress is not None:
            progress(1)
    return arrays


def read_explanation(file: Path) -> dict[str, dict[str, np.ndarray]]:
    """model name -> {kind: array} from a stored .npz: "image" (uint8) and float32 maps,
    "positive" and "negative" for a two-class model, "predicted" and "true" for an N-class
    one, with "classes" (ints: [predicted class, true class], -1 where unknown)."""
    result: dict[str, dict[str, np.ndarray]] = {}
    with np.load(file) as data:
        for key in data.files:
            name, kind = key.split("__", 1)
            result.setdefault(name, {})[kind] = data[key].astype(_KIND_TYPES.get(kind, np.float32))
    return result
