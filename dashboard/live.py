"""Answer one image with every model, through the pipeline's own preprocessing."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dashboard.settings import MAX_UPLOAD_BYTES
from pipeline import artifacts
from pipeline.images import ImageError, LoadedImage, load_rgb, resize_for_model


@dataclass
class Verdict:
    name: str
    p_positive: float
    latency_ms: float


@dataclass
class Answer:
    """What every model says about one image, or why it could not be read."""

    title: str
    error: str | None = None
    loaded: LoadedImage | None = None
    seen: dict[tuple[int, int], np.ndarray] = field(default_factory=dict)
    verdicts: list[Verdict] = field(default_factory=list)
    total_ms: float = 0.0


def answer(title: str, payload: bytes, models: dict) -> Answer:
    """Decode once, resize once per input size, and time each model's call."""
    start = time.perf_counter()
    if len(payload) > MAX_UPLOAD_BYTES:
        return Answer(
            title,
            error=f"file too large ({len(payload) / 1e6:.1f} MB; the limit is "
            f"{MAX_UPLOAD_BYTES / 1e6:.0f} MB)",
        )
    try:
        loaded = load_rgb(payload)
    except ImageError as err:
        return Answer(title, error=str(err))
    result = Answer(title, loaded=loaded)
    for name, model in models.items():
        size = tuple(model.input_shape[1:3])
        if size not in result.seen:
            result.seen[size] = resize_for_model(loaded.image, size)
        t0 = time.perf_counter()
        p = np.asarray(model.predict_on_batch(result.seen[size][None].astype(np.float32)))
        result.verdicts.append(
            Verdict(name, float(p.reshape(-1)[0]), (time.perf_counter() - t0) * 1000)
        )
    result.total_ms = (time.perf_counter() - start) * 1000
    return result


def sample_photos(run: artifacts.Run, per_class: int = 3) -> list[tuple[str, Path]]:
    """A few validation photos to try: from the data folder when present, else thumbnails."""
    split = run.split()
    val = split[split.split == "val"].sort_values("path")
    root = Path(run.manifest["dataset"]["root"])
    samples = []
    for label in (0, 1):
        for path in val[val.label == label].path.head(per_class):
            if (root / path).is_file():
                samples.append((path, root / path))
    if samples:
        return samples
    names = run.model_names()
    if not names:
        return []
    wrong = run.misclassified(names[0]).head(per_class * 2)
    return [
        (p, run.thumb_path(t))
        for p, t in zip(wrong.path, wrong.thumb, strict=True)
        if isinstance(t, str) and run.thumb_path(t).is_file()
    ]
