"""Answer one image with every model, through the pipeline's own preprocessing."""

from __future__ import annotations

import hashlib
import io
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from dashboard import classes as nclass
from dashboard.settings import (
    MAX_BATCH_FILES,
    MAX_BATCH_PIXELS,
    MAX_UPLOAD_BYTES,
    megabytes,
    negative_name,
    positive_name,
)
from pipeline.data.images import FORMATS, ImageError, load_rgb, resize_for_model
from pipeline.store import artifacts
from pipeline.store.predictions import as_matrix, predicted_classes

# The upright original is shown at most this large; the models get their own pixels.
PREVIEW_SIZE = 480
MAX_SAMPLES = 12  # sample photos offered for a run of many classes (one per class)


@dataclass
class Verdict:
    """One model's answer: P(second class) as every two-class model outputs it, and for an
    N-way model all its class probabilities."""

    name: str
    p_positive: float
    latency_ms: float
    probabilities: tuple[float, ...] = ()

    def class_probabilities(self) -> np.ndarray:
        """(N,) probabilities of every class ([1 - p, p] for a two-class model)."""
        return as_matrix(self._batch())[0]

    def predicted(self) -> int:
        """The class index answered: P(second) >= 0.5 for two classes, else the top class."""
        return int(predicted_classes(self._batch())[0])

    def _batch(self) -> np.ndarray:
        """This answer as a model's scores for a batch of one photo: (1, N) probabilities, or
        (1,) P(second class) for a two-class model (as `pipeline.store.predictions` reads)."""
        return np.asarray([self.probabilities or self.p_positive], float)

    def confidence(self) -> float:
        """The probability of the answered class."""
        return float(self.class_probabilities()[self.predicted()])


@dataclass
class Answer:
    """What every model says about one image, or why it could not be read."""

    error: str | None = None
    notes: list[str] = field(default_factory=list)
    # The upright photo (JPEG, at most PREVIEW_SIZE px) and what each input size of model
    # saw (PNG, lossless), encoded once here rather than by st.image on every rerun.
    preview: bytes = b""
    seen_png: dict[tuple[int, int], bytes] = field(default_factory=dict)
    seen: dict[tuple[int, int], np.ndarray] = field(default_factory=dict)
    verdicts: list[Verdict] = field(default_factory=list)
    total_ms: float = 0.0


def digest(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def answer(payload: bytes, models: dict) -> Answer:
    """Decode once, resize once per input size, and time each model's call.

    `models`: name -> `pipeline.modeling.forward.Forward` (each model's compiled pass)."""
    start = time.perf_counter()
    if len(payload) > MAX_UPLOAD_BYTES:
        return Answer(
            error=f"file too large ({megabytes(len(payload))}; the limit is "
            f"{megabytes(MAX_UPLOAD_BYTES)})"
        )
    try:
        loaded = load_rgb(payload)
    except ImageError as err:
        return Answer(error=str(err))
    preview = loaded.image.copy()
    preview.thumbnail((PREVIEW_SIZE, PREVIEW_SIZE))
    result = Answer(notes=loaded.notes, preview=_encode(preview, "JPEG", quality=90))
    for name, forward in models.items():
        size = tuple(forward.model.input_shape[1:3])
        if size not in result.seen:
            result.seen[size] = resize_for_model(loaded.image, size)
            result.seen_png[size] = _encode(Image.fromarray(result.seen[size]), "PNG")
        t0 = time.perf_counter()
        p = forward(result.seen[size][None].astype(np.float32))[0]
        result.verdicts.append(_verdict(name, p.reshape(-1), (time.perf_counter() - t0) * 1000))
    result.total_ms = (time.perf_counter() - start) * 1000
    return result


def _verdict(name: str, p: np.ndarray, latency_ms: float) -> Verdict:
    """A model's output for one image: one sigmoid, or N softmax probabilities."""
    if p.size == 1:
        return Verdict(name, float(p[0]), latency_ms)
    return Verdict(name, float(p[1]), latency_ms, probabilities=tuple(float(v) for v in p))


def _encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def vote(verdicts: list[Verdict], classes: list[str]) -> str:
    """'3 of 4 models say Dog — they disagree' (by the run's class names), or a tie said as
    one. More than two classes: the majority of the predicted classes."""
    if len(classes) != 2:
        return nclass.vote([classes[v.predicted()] for v in verdicts])
    positive = sum(v.p_positive >= 0.5 for v in verdicts)
    negative = len(verdicts) - positive
    first, second = negative_name(classes), positive_name(classes)
    if positive == negative:
        n = len(verdicts)
        return f"**A tie: {negative} of {n} models say {first}, {positive} say {second}**"
    winner, count = (second, positive) if positive > negative else (first, negative)
    how = " — unanimous" if count == len(verdicts) else " — they disagree"
    return f"**{count} of {len(verdicts)} models say {winner}**{how}"


def pixel_count(payload: bytes) -> int:
    """Width x height from the header only (0 when unreadable: the answer will say why)."""
    try:
        with Image.open(io.BytesIO(payload), formats=FORMATS) as img:
            return img.size[0] * img.size[1]
    except Exception:  # any unreadable header is reported later, by the loader
        return 0


def within_limits(items: list[tuple[str, bytes]]) -> tuple[list[tuple[str, bytes]], list[str]]:
    """The uploads one rerun answers: at most MAX_BATCH_FILES files and MAX_BATCH_PIXELS
    pixels in all (decoding cost follows pixels, not bytes); messages for the rest."""
    kept, messages, pixels = [], [], 0
    for title, payload in items:
        if len(kept) == MAX_BATCH_FILES:
            messages.append(
                f"Only the first {MAX_BATCH_FILES} photos are answered at once; "
                f"{len(items) - MAX_BATCH_FILES} more were left out. Remove some to see others."
            )
            break
        size = pixel_count(payload)
        if pixels + size > MAX_BATCH_PIXELS:
            messages.append(
                f"{title} left out: the photos together would exceed "
                f"{MAX_BATCH_PIXELS / 1e6:.0f} megapixels. Remove some photos first."
            )
            continue
        pixels += size
        kept.append((title, payload))
    return kept, messages


def sample_photos(run: artifacts.Run, per_class: int = 3) -> list[tuple[str, Path]]:
    """A few validation photos to try: from the data folder when present, else thumbnails.

    Two classes: `per_class` of each; more: one of each of the first MAX_SAMPLES classes."""
    split = run.split()
    val = split[split.split == "val"].sort_values("path")
    root = Path(run.manifest["dataset"]["root"])
    samples = []
    n = len(run.class_names)
    if n != 2:
        per_class = 1
    for label in range(min(n, MAX_SAMPLES)):
        for path in val[val.label == label].path.head(per_class):
            if (root / path).is_file():
                samples.append((path, root / path))
    if samples:
        return samples
    for name in run.model_names():
        try:
            wrong = run.misclassified(name).head(per_class * 2)
        except (artifacts.ArtifactError, OSError, ValueError):
            continue
        return [
            (p, run.thumb_path(t))
            for p, t in zip(wrong.path, wrong.thumb, strict=True)
            if isinstance(t, str) and run.thumb_path(t).is_file()
        ]
    return []
