"""Run a run's saved models on corrupted validation photos; store `robustness.json`.

Every photo of the subset is decoded once and corrupted once per condition;
each model then sees it at its own input size. The answers per model and
condition are stored with the summary, so the dashboard can show any photo's
answers without running a model: per photo P(second class) for a two-class
model, the list of its N class probabilities for an N-class one. The predicted
class is P >= 0.5 for two classes, the argmax for N.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from pipeline.data.images import ImageError, load_resized_like_tensorflow, load_rgb
from pipeline.evaluation import robustness
from pipeline.evaluation.stats import mcnemar
from pipeline.modeling.engine import Engine
from pipeline.modeling.predict import score_batches
from pipeline.store import artifacts
from pipeline.store.predictions import predicted_classes


def _subset(run: artifacts.Run, root: str, n: int, seed: int):
    val = run.split().query("split == 'val'").reset_index(drop=True)
    picked = robustness.pick_photos(val.path.tolist(), val.label.astype(int).tolist(), n, seed=seed)
    photos, paths, labels = [], [], []
    for i in picked:
        try:
            photos.append(load_rgb(Path(root) / val.path[i]).image)
        except (ImageError, OSError):
            continue
        paths.append(val.path[i])
        labels.append(int(val.label[i]))
    return photos, paths, np.array(labels)


def _batches(images: list[np.ndarray], size: int):
    for start in range(0, len(images), size):
        yield np.stack(images[start : start + size]).astype(np.float32)


def _rounded(p: np.ndarray) -> list:
    """Stored answers: (n,) P(second class) as floats, (n, N) as a list per photo."""
    if p.ndim == 2:
        return [[round(float(v), 5) for v in row] for row in p]
    return [round(float(v), 5) for v in p]


def evaluate_robustness(
    run: artifacts.Run,
    root: str,
    models: dict,
    n_photos: int = robustness.DEFAULT_PHOTOS,
    batch: int = 16,
    progress=None,
    engine: Engine | None = None,
) -> dict:
    """Accuracy of each of `models` (name -> loaded Keras model) under every corruption on a
    seeded subset of the validation photos; written to the run's `robustness.json`."""
    start = time.perf_counter()
    seed = int(run.manifest.get("config", {}).get("seed", 0))
    photos, paths, labels = _subset(run, root, n_photos, seed=seed)
    if not photos:
        raise ValueError(f"none of the run's validation photos can be read under {root}")
    answers: dict[str, dict[str, list[float]]] = {name: {} for name in models}
    summaries = {}
    conditions = robustness.conditions()
    for name, model in models.items():
        size = tuple(model.input_shape[1:3])

        def batches(size=size):
            for corruption, severity in conditions:
                images = [
                    robustness.model_input(photo, corruption, severity, input_size=size, seed=i)
                    for i, photo in enumerate(photos)
                ]
                yield from _batches(images, batch)

        # One scoring pass over every condition: the model is traced once, not per condition.
        p, _ = score_batches(model, batches(), engine=engine)
        predicted = {}
        for (corruption, severity), row in zip(
            conditions, p.reshape(len(conditions), len(photos), *p.shape[1:]), strict=True
        ):
            answers[name][f"{corruption}:{severity}"] = _rounded(row)
            predicted[(corruption, severity)] = predicted_classes(row)
        summaries[name] = robustness.summarize(labels, predicted)
        if progress is not None:
            progress(1)
    result = {
        "version": robustness.ROBUSTNESS_VERSION,
        "photos": paths,
        "labels": labels.tolist(),
        "corruptions": [
            {"name": c.name, "label": c.label, "levels": list(c.levels), "unit": c.unit}
            for c in robustness.CORRUPTIONS
        ],
        "models": summaries,
        "answers": answers,
        "seconds": round(time.perf_counter() - start, 1),
    }
    artifacts.write_json(run.path / artifacts.ROBUSTNESS, result)
    return result


def resize_gaps(result: dict) -> dict[str, dict]:
    """Per model: accuracy with the loader's resize minus with TensorFlow's default resize,
    in points, and how many answers differ between the two."""
    gaps = {}
    for name, summary in result["models"].items():
        rows = {(r["corruption"], r["severity"]): r for r in summary["rows"]}
        clean, tf_resized = rows[("clean", 0)], rows[("resize", 1)]
        gaps[name] = {
            "points": (clean["accuracy"] - tf_resized["accuracy"]) * 100,
            "changed": tf_resized["changed"],
            "photos": len(result["photos"]),
        }
    return gaps


def resize_gap_all(
    run: artifacts.Run,
    root: str,
    models: dict,
    batch: int = 16,
    progress=None,
    engine: Engine | None = None,
) -> dict:
    """Every validation photo resized TensorFlow's way (`images.load_resized_like_tensorflow`) and
    scored by each of `models`, against the run's stored answers (the loader's resize):
    accuracy both ways, the gap in points, answers that differ, and McNemar's paired test.
    Written to the run's `resize_gap.json`."""
    start = time.perf_counter()
    val = run.split().query("split == 'val'").sort_values("path").reset_index(drop=True)
    results = {}
    for name, model in models.items():
        size = tuple(model.input_shape[1:3])
        stored = run.predictions(name).set_index("path").loc[val.path]
        readable: list[bool] = []

        def batches(size=size, readable=readable):
            images = []
            for path in val.path:
                try:
                    images.append(load_resized_like_tensorflow(Path(root) / path, size))
                except (ImageError, OSError):
                    readable.append(False)
                    continue
                readable.append(True)
                if len(images) == batch:
                    yield np.stack(images).astype(np.float32)
                    images = []
            if images:
                yield np.stack(images).astype(np.float32)

        p_tf, _ = score_batches(model, batches(), engine=engine)
        keep = np.array(readable)
        labels = val.label.to_numpy()[keep].astype(int)
        pillow_right = stored.predicted.to_numpy()[keep].astype(int) == labels
        tf_right = predicted_classes(p_tf) == labels
        test = mcnemar(pillow_right, tf_right)
        results[name] = {
            "photos": int(keep.sum()),
            "pillow": float(pillow_right.mean()),
            "tensorflow": float(tf_right.mean()),
            "points": float(pillow_right.mean() - tf_right.mean()) * 100,
            "changed": int((pillow_right != tf_right).sum()),
            "p_value": test.p_value,
        }
        if progress is not None:
            progress(1)
    result = {"models": results, "seconds": round(time.perf_counter() - start, 1)}
    artifacts.write_json(run.path / artifacts.RESIZE_GAP, result)
    return result
