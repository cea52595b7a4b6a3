"""Score a trained model on the validation photos and write its evaluation files."""

from __future__ import annotations

import time
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from pipeline import artifacts, metrics
from pipeline.dataset import Sample, image_dataset
from pipeline.images import ImageError, load_rgb

THUMB_SIZE = 192


def predict_samples(
    model: keras.Model,
    root: str,
    samples: list[Sample],
    input_size: tuple[int, int],
    batch_size: int,
) -> np.ndarray:
    """P(positive class) for each sample, through the shared image path."""
    ds = image_dataset(root, samples, input_size, batch_size)
    return np.concatenate(
        [np.asarray(model.predict_on_batch(images)).reshape(-1) for images, _ in ds]
    )


def single_image_latency_ms(
    model: keras.Model, input_size: tuple[int, int], repeats: int = 15
) -> float:
    """Median wall time of one 1-image call after warm-up, as the dashboard makes it."""
    x = np.random.default_rng(0).uniform(0, 255, (1, *input_size, 3)).astype(np.float32)
    model.predict_on_batch(x)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.predict_on_batch(x)
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1000)


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
    tmp = target.with_suffix(".tmp")
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
    p_dog: np.ndarray | None = None,
) -> dict:
    """Write predictions, confusion matrix, metrics and misclassified index; return the metrics.

    `p_dog`, when given, are the model's probabilities already computed from
    cached inputs; otherwise every photo goes through the model.
    """
    input_size = tuple(model.input_shape[1:3])
    if p_dog is None:
        p_dog = predict_samples(model, root, samples, input_size, batch_size)
    labels = np.array([s.label for s in samples])
    predicted = metrics.predicted_labels(p_dog)
    frame = pd.DataFrame(
        {
            "path": [s.path for s in samples],
            "label": labels,
            "p_dog": p_dog,
            "predicted": predicted,
        }
    )
    artifacts.write_csv(folder / artifacts.PREDICTIONS, frame)
    matrix = metrics.confusion(labels, p_dog)
    artifacts.write_json(
        folder / artifacts.CONFUSION,
        {
            "class_names": class_names,
            "matrix": matrix,
            "per_class": metrics.per_class(matrix, class_names),
        },
    )
    wrong = frame[frame.label != frame.predicted].copy()
    wrong["confidence"] = np.where(wrong.predicted == 1, wrong.p_dog, 1 - wrong.p_dog)
    wrong["thumb"] = [write_thumb(root, p, thumbs_dir) for p in wrong.path]
    wrong = wrong.sort_values("confidence", ascending=False)
    artifacts.write_csv(folder / artifacts.MISCLASSIFIED, wrong[artifacts.MISCLASSIFIED_COLUMNS])
    scores = metrics.classification_metrics(labels, p_dog)
    scores["latency_ms"] = single_image_latency_ms(model, input_size)
    artifacts.write_json(folder / artifacts.METRICS, scores)
    return scores
