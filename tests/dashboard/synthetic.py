"""A complete, made-up run of N classes for the dashboard's tests: photos, two tiny real Keras
models, and every file the pipeline writes, computed here (nothing from `dashboard`).

Each class is a colour; a photo is its class's colour plus noise, and each model is a
nearest-colour classifier (Rescaling, a 1x1 Conv2D, GlobalAveragePooling2D, Dense(N,
softmax)) with its own jittered idea of the colours, so the models differ and err. Two
photos are filed under the wrong class folder: label errors every model sees through.

`build_run(out, classes=..., folder=...)` returns the run folder, which a real pipeline run
(e.g. a 3-class CIFAR-10 run) can replace: the tests read only the run's files.
"""

from __future__ import annotations

import colorsys
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from pipeline.store import artifacts
from pipeline.store.predictions import prediction_frame

SIZE = 32  # the models' input size
MODELS = ("cnn3", "mobilenetv2_frozen")
SUSPECT_CONFIDENCE = 0.9
NOISE = 0.2  # of a photo's colour: enough for some honest mistakes
# Class names that must survive CSV columns, chart labels and file names.
THREE_CLASSES = ("bird", 'café, "au lait"', "zebra crossing")
TEN_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    'café, "au lait"',
    "deer",
    "frog",
    "horse",
    "ship",
    "truck",
    "zebra crossing",
)


def colours(n: int) -> np.ndarray:
    """(n, 3) class colours in [0, 1], evenly spread around the hue circle."""
    return np.array([colorsys.hsv_to_rgb(i / n, 0.8, 0.9) for i in range(n)])


def photo(colour: np.ndarray, rng: np.random.Generator, noise: float) -> Image.Image:
    """A 40x48 photo of one colour, shifted and speckled by noise."""
    shift = rng.normal(0, noise, 3)
    pixels = colour + shift + rng.normal(0, 0.05, (40, 48, 3))
    return Image.fromarray((np.clip(pixels, 0, 1) * 255).astype(np.uint8))


def tiny_model(centres: np.ndarray, scale: float):
    """A real Keras model answering the nearest of `centres` (a softmax over N classes)."""
    import keras

    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Conv2D(3, 1, activation="relu", name="conv")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(len(centres), activation="softmax", name="head")(x)
    model = keras.Model(inputs, outputs)
    model.get_layer("conv").set_weights([np.eye(3).reshape(1, 1, 3, 3), np.zeros(3)])
    bias = -scale * (centres**2).sum(axis=1) / 2
    model.get_layer("head").set_weights([scale * centres.T, bias])
    return model


def _sha(file: Path) -> str:
    return hashlib.sha256(file.read_bytes()).hexdigest()


def write_photos(root: Path, classes: list[str], per_class: int, seed: int) -> pd.DataFrame:
    """The data folder and its split.csv rows: `per_class` validation photos of each class
    (two of them filed under the next class's folder), two training ones."""
    rng = np.random.default_rng(seed)
    centre = colours(len(classes))
    rows = []
    for i, name in enumerate(classes):
        (root / name).mkdir(parents=True, exist_ok=True)
        for j in range(per_class + 2):
            mislabeled = j == 0 and i < 2  # really of the class before
            image = photo(centre[i - 1 if mislabeled else i], rng, 0.0 if mislabeled else NOISE)
            path = f"{name}/{j}.jpg"
            image.save(root / path, quality=95)
            split = "val" if j < per_class else "train"
            rows.append({"path": path, "label": i, "split": split, "sha256": _sha(root / path)})
    return pd.DataFrame(rows, columns=artifacts.SPLIT_COLUMNS)


def softmax_log(p: np.ndarray) -> np.ndarray:
    return np.log(np.clip(p, 1e-7, 1.0))


def per_class_scores(matrix: np.ndarray, classes: list[str]) -> dict:
    """confusion.json's per_class: precision, recall, F1 and support of each class."""
    result = {}
    for i, name in enumerate(classes):
        tp, predicted, support = matrix[i, i], matrix[:, i].sum(), matrix[i].sum()
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        result[name] = {
            "precision": float(precision),
            "recall": float(recall),
            "f1": float(f1),
            "support": int(support),
        }
    return result


def metrics_of(labels: np.ndarray, p: np.ndarray, classes: list[str]) -> dict:
    """metrics.json of an N-class model (macro precision, recall, F1 and one-vs-rest AUC)."""
    from sklearn.metrics import roc_auc_score

    predicted = p.argmax(axis=1)
    n = len(classes)
    matrix = np.zeros((n, n), int)
    np.add.at(matrix, (labels, predicted), 1)
    scores = per_class_scores(matrix, classes)
    macro = {k: float(np.mean([s[k] for s in scores.values()])) for k in ("precision", "recall")}
    f1 = float(np.mean([s["f1"] for s in scores.values()]))
    k = 5 if n > 5 else 2
    top = np.argsort(-p, axis=1)[:, :k]
    auc = {c: float(roc_auc_score(labels == i, p[:, i])) for i, c in enumerate(classes)}
    return {
        "n": len(labels),
        "accuracy": float((predicted == labels).mean()),
        **macro,
        "f1": f1,
        "roc_auc": float(np.mean(list(auc.values()))),
        "roc_auc_per_class": auc,
        "log_loss": float(-np.log(np.clip(p[np.arange(len(p)), labels], 1e-7, 1)).mean()),
        "balanced_accuracy": macro["recall"],
        "macro_precision": macro["precision"],
        "macro_recall": macro["recall"],
        "macro_f1": f1,
        "top_k": k,
        "top_k_accuracy": float((top == labels[:, None]).any(axis=1).mean()),
        "latency_ms": 1.5,
    }


def write_model(run_dir: Path, name: str, model, split: pd.DataFrame, context: dict) -> dict:
    """Every file of one model from its own answers to the validation photos; its record."""
    from pipeline.data.images import load_model_input

    classes, root = context["classes"], context["root"]
    val = split[split.split == "val"].sort_values("path")
    pixels = np.stack([load_model_input(root / p, (SIZE, SIZE)) for p in val.path])
    p = np.asarray(model.predict_on_batch(pixels.astype(np.float32)), float)
    labels = val.label.to_numpy(int)
    folder = run_dir / artifacts.MODELS / name
    folder.mkdir(parents=True)
    model.save(folder / artifacts.MODEL_FILE)
    frame = prediction_frame(
        paths=val.path.tolist(),
        labels=labels,
        probabilities=p,
        logits=softmax_log(p),
        class_names=classes,
    )
    artifacts.write_csv(folder / artifacts.PREDICTIONS, frame)
    metrics = metrics_of(labels, p, classes)
    artifacts.write_json(folder / artifacts.METRICS, metrics)
    matrix = np.zeros((len(classes), len(classes)), int)
    np.add.at(matrix, (labels, frame.predicted.to_numpy(int)), 1)
    confusion = {
        "class_names": classes,
        "matrix": matrix.tolist(),
        "per_class": per_class_scores(matrix, classes),
    }
    artifacts.write_json(folder / artifacts.CONFUSION, confusion)
    write_mistakes(folder, frame, p=p, root=root)
    history = pd.DataFrame(
        [
            {"epoch": e, "phase": "train", "loss": 1 / e, "accuracy": 1 - 0.5 / e}
            | {"val_loss": 1.2 / e, "val_accuracy": 1 - 0.6 / e}
            | {"learning_rate": 1e-3, "seconds": 0.5}
            for e in (1, 2, 3)
        ],
        columns=artifacts.HISTORY_COLUMNS,
    )
    artifacts.write_csv(folder / artifacts.HISTORY, history)
    return {
        "name": name,
        "file": f"{artifacts.MODELS}/{name}/{artifacts.MODEL_FILE}",
        "input_size": [SIZE, SIZE],
        "params": int(model.count_params()),
        "trainable_params": int(model.count_params()),
        "size_bytes": (folder / artifacts.MODEL_FILE).stat().st_size,
        "train_seconds": 1.0,
        "epochs": 3,
        "resumed_after_epoch": None,
        "distribution": None,
        "metrics": metrics,
        "notes": [],
    }


def write_mistakes(folder: Path, frame: pd.DataFrame, *, p: np.ndarray, root: Path) -> None:
    """misclassified.csv (confidence = P(predicted class)) and the thumbnails it names."""
    wrong = frame[frame.predicted != frame.label].copy()
    wrong["confidence"] = p[wrong.index, wrong.predicted.to_numpy(int)]
    wrong["thumb"] = [artifacts.thumb_name(path) for path in wrong.path]
    thumbs = folder.parent.parent / artifacts.THUMBS
    thumbs.mkdir(exist_ok=True)
    for path, thumb in zip(wrong.path, wrong.thumb, strict=True):
        with Image.open(root / path) as image:
            image.convert("RGB").save(thumbs / thumb)
    columns = ["path", "label", "predicted", "confidence", "thumb"]
    wrong = wrong.sort_values("confidence", ascending=False)[columns]
    artifacts.write_csv(folder / artifacts.MISCLASSIFIED, wrong)


def _bins(confidence: np.ndarray, right: np.ndarray, n_bins: int = 10) -> list[dict]:
    edges = np.linspace(0, 1, n_bins + 1)
    bins = []
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        inside = (confidence >= low) & ((confidence < high) | (high == 1))
        count = int(inside.sum())
        bins.append(
            {
                "low": float(low),
                "high": float(high),
                "count": count,
                "mean_p": float(confidence[inside].mean()) if count else None,
                "positive_rate": float(right[inside].mean()) if count else None,
            }
        )
    return bins


def _summary(labels: np.ndarray, logits: np.ndarray) -> dict:
    """Top-label ECE, log loss and reliability bins of softmax(logits)."""
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    confidence, right = p.max(axis=1), p.argmax(axis=1) == labels
    bins = _bins(confidence, right)
    ece = sum(b["count"] * abs(b["positive_rate"] - b["mean_p"]) for b in bins if b["count"])
    loss = float(-np.log(np.clip(p[np.arange(len(p)), labels], 1e-12, 1)).mean())
    return {"ece": ece / len(labels), "log_loss": loss, "bins": bins}


def calibration(labels: np.ndarray, logits: np.ndarray) -> dict:
    """The calibration report's shape: a temperature (grid-fitted), before and after."""
    grid = np.linspace(0.25, 4, 76)
    t = float(min(grid, key=lambda t: _summary(labels, logits / t)["log_loss"]))
    before, after = _summary(labels, logits), _summary(labels, logits / t)
    return {"n_bins": 10, "temperature": t, "before": before, "after": after}


def one_vs_rest(labels: np.ndarray, p: np.ndarray, classes: list[str]) -> dict:
    from sklearn.metrics import average_precision_score, precision_recall_curve, roc_curve

    curves = {}
    for i, name in enumerate(classes):
        fpr, tpr, roc_t = roc_curve(labels == i, p[:, i])
        precision, recall, pr_t = precision_recall_curve(labels == i, p[:, i])
        curves[name] = {
            "roc": {"fpr": fpr.tolist(), "tpr": tpr.tolist(), "threshold": roc_t.tolist()},
            "pr": {
                "precision": precision[:-1].tolist(),
                "recall": recall[:-1].tolist(),
                "threshold": pr_t.tolist(),
            },
            "roc_auc": float(np.trapezoid(tpr, fpr)),
            "average_precision": float(average_precision_score(labels == i, p[:, i])),
        }
    return curves


def selective(labels: np.ndarray, p: np.ndarray) -> dict:
    confidence = p.max(axis=1)
    order = np.argsort(-confidence, kind="stable")
    right = (p.argmax(axis=1) == labels)[order]
    kept = np.arange(1, len(order) + 1)
    return {
        "confidence": confidence[order][::-1].tolist(),
        "coverage": (kept / len(order))[::-1].tolist(),
        "accuracy": (np.cumsum(right) / kept)[::-1].tolist(),
    }


def analysis_of(run_dir: Path, classes: list[str], records: list[dict]) -> dict:
    """analysis.json by the N-class contract, and suspects.csv beside it."""
    from pipeline.evaluation import stats
    from pipeline.evaluation.analysis import ANALYSIS_VERSION, efficiency
    from pipeline.store.predictions import probabilities_of

    names = [r["name"] for r in records]
    frames = {n: pd.read_csv(run_dir / artifacts.MODELS / n / artifacts.PREDICTIONS) for n in names}
    labels = frames[names[0]].label.to_numpy(int)
    per_model, predicted = {}, {}
    for n, frame in frames.items():
        p = probabilities_of(frame, classes)
        predicted[n] = frame.predicted.to_numpy(int)
        k = int((predicted[n] == labels).sum())
        per_model[n] = {
            "n": len(labels),
            "correct": k,
            "accuracy": k / len(labels),
            "accuracy_ci95": list(stats.wilson_interval(k, len(labels))),
            "calibration": calibration(labels, softmax_log(p)),
            "curves_per_class": one_vs_rest(labels, p, classes),
            "selective": selective(labels, p),
            "per_class_accuracy": {
                c: float((predicted[n][labels == i] == i).mean()) for i, c in enumerate(classes)
            },
        }
    found = suspects_of(frames, classes)
    artifacts.write_csv(run_dir / artifacts.SUSPECTS, found)
    return {
        "version": ANALYSIS_VERSION,
        "models": names,
        "class_names": classes,
        "per_model": per_model,
        "confused_pairs": confused_pairs(labels, predicted, classes),
        "mcnemar": stats.pairwise_mcnemar({n: predicted[n] == labels for n in names}),
        "agreement": stats.agreement_matrix(predicted),
        "efficiency": efficiency(records),
        "suspects": {"min_confidence": SUSPECT_CONFIDENCE, "count": len(found)},
    }


def confused_pairs(labels: np.ndarray, predicted: dict, classes: list[str]) -> list[dict]:
    pairs: dict[tuple[int, int], dict[str, int]] = {}
    for n, answers in predicted.items():
        for t, q in zip(labels, answers, strict=True):
            if t != q:
                counts = pairs.setdefault((int(t), int(q)), {})
                counts[n] = counts.get(n, 0) + 1
    rows = [
        {"true": classes[t], "predicted": classes[q], "counts": c, "total": sum(c.values())}
        for (t, q), c in pairs.items()
    ]
    return sorted(rows, key=lambda r: (-r["total"], r["true"], r["predicted"]))[:20]


def suspects_of(frames: dict[str, pd.DataFrame], classes: list[str]) -> pd.DataFrame:
    """Photos every model puts in the same other class with probability >= 0.9."""
    from pipeline.store.predictions import probabilities_of

    names = list(frames)
    first = frames[names[0]]
    p = {n: probabilities_of(f, classes) for n, f in frames.items()}
    top = p[names[0]].argmax(axis=1)
    rows = np.arange(len(first))
    chosen = np.stack([p[n][rows, top] for n in names])
    keep = (top != first.label.to_numpy(int)) & (chosen.min(axis=0) >= SUSPECT_CONFIDENCE)
    keep &= np.all([p[n].argmax(axis=1) == top for n in names], axis=0)
    found = pd.DataFrame({"path": first.path, "label": first.label, "suspected": top})
    found["suspected_class"] = [classes[i] for i in top]
    for i, n in enumerate(names):
        found[f"p_{n}"] = chosen[i]
    found["min_confidence_other"] = chosen.min(axis=0)
    return found[keep].sort_values("min_confidence_other", ascending=False)


def write_gradcam(run_dir: Path, paths: list[str], models: dict, split: pd.DataFrame) -> None:
    """Made-up Grad-CAM maps by the N-class keys, for a few photos."""
    from pipeline.data.images import load_model_input

    folder = run_dir / artifacts.GRADCAM
    folder.mkdir(exist_ok=True)
    root = Path(json.loads((run_dir / artifacts.MANIFEST).read_text())["dataset"]["root"])
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] / SIZE
    for path in paths:
        image = load_model_input(root / path, (SIZE, SIZE))
        true = int(split.label[split.path == path].iloc[0])
        arrays = {}
        for name, model in models.items():
            predicted = int(np.argmax(model.predict_on_batch(image[None].astype(np.float32))))
            arrays[f"{name}__image"] = image.astype(np.uint8)
            arrays[f"{name}__predicted"] = np.exp(-((xx - 0.3) ** 2 + (yy - 0.5) ** 2) * 8)
            arrays[f"{name}__true"] = np.exp(-((xx - 0.7) ** 2 + (yy - 0.5) ** 2) * 8)
            arrays[f"{name}__classes"] = np.array([predicted, true])
        np.savez_compressed(folder / (Path(artifacts.thumb_name(path)).stem + ".npz"), **arrays)


def manifest_of(run_id: str, root: Path, split: pd.DataFrame, records: list[dict]) -> dict:
    """A manifest shaped like a real quick run's (schema 2)."""
    import platform

    import keras
    import tensorflow as tf

    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    counts = {
        part: {
            c: int(((split.split == part) & (split.label == i)).sum())
            for i, c in enumerate(classes)
        }
        for part in ("train", "val")
    }
    environment = {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "platform": platform.platform(),
        "cpu": "test CPU",
        "cpu_flags": [],
        "cpu_count": 2,
    }
    return {
        "schema_version": artifacts.SCHEMA_VERSION,
        "run_id": run_id,
        "created": "2026-12-01T12:00:00+00:00",
        "status": "complete",
        "config": {"profile": "quick", "data_dir": str(root), "seed": 1337, "val_fraction": 0.2},
        "config_fingerprint": "synthetic",
        "identity": {"config": "synthetic", "data": "", "weights": "none", "key": run_id[-8:]},
        "models": records,
        "caches": [],
        "dataset": {
            "root": str(root),
            "class_names": classes,
            "positive_class": classes[-1],
            "counts": {
                "found": len(split),
                "usable": len(split),
                "skipped": 0,
                "converted": 0,
                "excluded": 0,
                "duplicate_groups": 0,
                "held_out": 0,
                **counts,
            },
            "skipped": [],
            "converted": [],
            "excluded": [],
            "exclude_file": None,
            "unmatched_exclusions": [],
            "duplicates": {"groups": 0, "photos": 0, "conflicting_labels": 0, "examples": []},
            "seed": 1337,
            "val_fraction": 0.2,
            "dev_fraction": 0.0,
            "max_per_class": None,
            "split": "content hash",
            "leaks": {"count": 0, "examples": []},
            "warnings": [],
        },
        "weights": {"kind": "none", "source": "none"},
        "environment": environment,
        "input_pipeline": {"device": "cpu", "gpus": 0, "inference_batch": 16},
        "cluster": None,
        "code_version": "synthetic",
        "planned_models": [r["name"] for r in records],
        "notes": [],
        "completed": "2026-12-01T12:01:00+00:00",
    }


def build_run(out: Path, classes: tuple[str, ...], folder: str, per_class: int = 4) -> Path:
    """A complete run of `classes` under `out` (artifacts folder), its photos in
    `out/data/<folder>`; `latest` points at it. Returns the run folder."""
    from pipeline.data.fingerprint import fingerprint_of
    from pipeline.store.manifest import record_files

    names = sorted(classes)
    root = out / "data" / folder
    split = write_photos(root, names, per_class=per_class, seed=len(names))
    run_id = f"20261201-120000-quick-n{len(names):02d}synth"
    run_dir = out / artifacts.RUNS / run_id
    run_dir.mkdir(parents=True)
    artifacts.write_csv(run_dir / artifacts.SPLIT, split)
    rng = np.random.default_rng(7)
    centre = colours(len(names))
    models = {
        name: tiny_model(centre + rng.normal(0, 0.04 * (i + 1), centre.shape), scale=60.0 + 30 * i)
        for i, name in enumerate(MODELS)
    }
    context = {"classes": names, "root": root}
    records = [write_model(run_dir, n, m, split=split, context=context) for n, m in models.items()]
    manifest = manifest_of(run_id, root, split=split, records=records)
    manifest["identity"]["data"] = fingerprint_of(
        names,
        list(split[["path", "label", "sha256"]].itertuples(index=False, name=None)),
        split.loc[split.split == "val", "path"].tolist(),
        excluded=[],
    )
    artifacts.write_json(run_dir / artifacts.MANIFEST, manifest)
    artifacts.write_json(run_dir / artifacts.ANALYSIS, analysis_of(run_dir, names, records))
    explained = pd.read_csv(run_dir / artifacts.SUSPECTS).path.tolist()[:3]
    for n in models:
        explained += (
            pd.read_csv(run_dir / artifacts.MODELS / n / artifacts.MISCLASSIFIED).path[:2].tolist()
        )
    write_gradcam(run_dir, list(dict.fromkeys(explained)), models=models, split=split)
    record_files(artifacts.read_run(run_dir))
    artifacts.point_latest(out, run_dir)
    return run_dir
