"""Score a trained model on the validation photos and write its evaluation files."""

from __future__ import annotations

import os
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from pipeline.data.dataset import Sample
from pipeline.data.images import ImageError, load_rgb
from pipeline.evaluation import latency, metrics
from pipeline.modeling.engine import Engine
from pipeline.modeling.predict import predict_samples
from pipeline.store import artifacts, predictions

THUMB_SIZE = 192


def single_image_latency_ms(
    model: keras.Model, repeats: int = 15, engine: Engine | None = None
) -> float:
    """Median wall time of one 1-image call after warm-up, as the dashboard makes it (the
    analysis times every model again, with repeats and noise: `pipeline.evaluation.latency`)."""
    timed = latency.measure({"model": model}, rounds=1, calls=repeats, engine=engine)
    return timed["model"]["median_ms"]


def write_thumb(root: str, path: str, thumbs_dir: Path) -> str | None:
    """A small upright JPEG of a photo, shared by every model that missed it."""
    name = artifacts.thumb_name(path)
    target = thumbs_dir / name
    if target.exists():
        return name
    try:
        image = load_rgb(Path(root) / path).image.copy()
    except (ImageError, OSError):
        return None
    image.thumbnail((THUMB_SIZE, THUMB_SIZE))
    thumbs_dir.mkdir(parents=True, exist_ok=True)
    tmp = thumbs_dir / f".{name}.{os.getpid()}.tmp"
    image.save(tmp, format="JPEG", quality=85)
    tmp.replace(target)
    return name


def evaluate_into(
    folder: Path,
    model: keras.Model,
    root: str,
    samples: list[Sample],
    class_names: list[str],
    batch_size: int,
    thumbs_dir: Path,
    scores: tuple[np.ndarray, np.ndarray] | None = None,
    progress=None,
    engine: Engine | None = None,
) -> dict:
    """Write predictions, confusion matrix, metrics and misclassified index; return the metrics.

    `scores`, when given, are the model's (probabilities, logits) already computed
    from cached inputs; otherwise every photo goes through the model. Their columns
    follow `pipeline.store.predictions`: two classes as every earlier run, N classes one
    probability and one logit column per class.
    """
    input_size = tuple(model.input_shape[1:3])
    if scores is None:
        scores = predict_samples(
            model,
            root,
            samples,
            input_size=input_size,
            batch_size=batch_size,
            progress=progress,
            engine=engine,
        )
    probabilities, logits = scores
    labels = np.array([s.label for s in samples])
    frame = predictions.prediction_frame(
        paths=[s.path for s in samples],
        labels=labels,
        probabilities=probabilities,
        logits=logits,
        class_names=class_names,
    )
    artifacts.write_csv(folder / artifacts.PREDICTIONS, frame)
    matrix = metrics.confusion(labels, probabilities)
    artifacts.write_json(
        folder / artifacts.CONFUSION,
        {
            "class_names": class_names,
            "matrix": matrix,
            "per_class": metrics.per_class(matrix, class_names),
        },
    )
    _write_misclassified(folder, frame, class_names=class_names, root=root, thumbs_dir=thumbs_dir)
    result = metrics.classification_metrics(labels, probabilities, logits=logits)
    if "roc_auc_per_class" in result:
        result["roc_auc_per_class"] = dict(
            zip(class_names, result["roc_auc_per_class"], strict=True)
        )
    result["latency_ms"] = single_image_latency_ms(model, engine=engine)
    artifacts.write_json(folder / artifacts.METRICS, result)
    return result


def _write_misclassified(
    folder: Path, frame: pd.DataFrame, *, class_names: list[str], root: str, thumbs_dir: Path
) -> None:
    """misclassified.csv: the wrong photos, most confident first, each with a thumbnail."""
    wrong = frame[frame.label != frame.predicted].copy()
    wrong["confidence"] = predictions.confidence_of(wrong, class_names)
    wrong["thumb"] = [write_thumb(root, p, thumbs_dir) for p in wrong.path]
    wrong = wrong.sort_values("confidence", ascending=False)
    artifacts.write_csv(
        folder / artifacts.MISCLASSIFIED, wrong[artifacts.misclassified_columns(class_names)]
    )
