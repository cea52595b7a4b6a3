"""How each model holds up on photos unlike the validation set.

Each corruption is applied to the decoded photo at its own size (as a camera,
a compressor or an editor would), then the photo goes through the shared
loader's resize like any other. The one exception is `resize`, which replaces
that resize by TensorFlow's default (bilinear, no antialiasing): the common way
to feed a model, and a different set of pixels.

Severity 0 is always the clean photo. The analysis scores every model on a
fixed, seeded subset of the validation photos (a Wilson interval says how far
the subset's accuracy can be from the full set's) and lists the photos whose
answer flips under the mildest severity of each corruption.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter

from pipeline.data.images import resize_for_model, resize_like_tensorflow
from pipeline.evaluation.stats import wilson_interval

# Bump when a corruption or the subset changes; stored with each result.
ROBUSTNESS_VERSION = 1
DEFAULT_PHOTOS = 160

Corrupt = Callable[[Image.Image, float, np.random.Generator], Image.Image]


def _jpeg(image: Image.Image, quality: float, _rng) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=int(quality))
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


def _blur(image: Image.Image, radius: float, _rng) -> Image.Image:
    return image.filter(ImageFilter.GaussianBlur(radius))


def _noise(image: Image.Image, sigma: float, rng: np.random.Generator) -> Image.Image:
    pixels = np.asarray(image, dtype=np.float32)
    noisy = pixels + rng.normal(0.0, sigma, pixels.shape)
    return Image.fromarray(noisy.round().clip(0, 255).astype(np.uint8))


def _brightness(image: Image.Image, factor: float, _rng) -> Image.Image:
    return ImageEnhance.Brightness(image).enhance(factor)


def _contrast(image: Image.Image, factor: float, _rng) -> Image.Image:
    return ImageEnhance.Contrast(image).enhance(factor)


def _rotate(image: Image.Image, degrees: float, _rng) -> Image.Image:
    return image.rotate(degrees, resample=Image.Resampling.BILINEAR, fillcolor=(0, 0, 0))


def _grayscale(image: Image.Image, _amount: float, _rng) -> Image.Image:
    return image.convert("L").convert("RGB")


def _downscale(image: Image.Image, factor: float, _rng) -> Image.Image:
    width, height = image.size
    small = (max(1, round(width * factor)), max(1, round(height * factor)))
    return image.resize(small, Image.Resampling.BILINEAR).resize(
        (width, height), Image.Resampling.BILINEAR
    )


@dataclass(frozen=True)
class Corruption:
    name: str
    label: str
    levels: tuple[float, ...]  # severity 1, 2, ...: the parameter at each
    unit: str
    apply: Corrupt | None  # None: the resize method, which replaces the loader's resize


CORRUPTIONS: tuple[Corruption, ...] = (
    Corruption("jpeg", "JPEG compression", (40, 10), unit="quality", apply=_jpeg),
    Corruption("blur", "Gaussian blur", (1.0, 2.5), unit="radius px", apply=_blur),
    Corruption("noise", "Gaussian noise", (12, 30), unit="sigma", apply=_noise),
    Corruption("brightness", "darker", (0.6, 0.3), unit="brightness factor", apply=_brightness),
    Corruption("contrast", "lower contrast", (0.6, 0.3), unit="contrast factor", apply=_contrast),
    Corruption("rotation", "rotation", (8, 20), unit="degrees", apply=_rotate),
    Corruption("grayscale", "grayscale", (1,), unit="", apply=_grayscale),
    Corruption("downscale", "downscale, then upscale", (0.5, 0.25), unit="scale", apply=_downscale),
    Corruption("resize", "TensorFlow bilinear resize (no antialias)", (1,), unit="", apply=None),
)
BY_NAME = {c.name: c for c in CORRUPTIONS}


def corrupt(image: Image.Image, name: str, severity: int, seed: int = 0) -> Image.Image:
    """`image` under corruption `name` at `severity` (0, or the name "clean": unchanged)."""
    if severity == 0:
        return image
    corruption = BY_NAME[name]
    if corruption.apply is None:
        return image
    rng = np.random.default_rng(seed)
    return corruption.apply(image, corruption.levels[severity - 1], rng)


def tf_resize(image: Image.Image, input_size: tuple[int, int]) -> np.ndarray:
    """`tf.image.resize` defaults (bilinear, no antialias), rounded back to uint8."""
    return np.asarray(resize_like_tensorflow(np.asarray(image), input_size))


def model_input(
    image: Image.Image, name: str, severity: int, input_size: tuple[int, int], seed: int = 0
) -> np.ndarray:
    """The pixels a model of `input_size` sees for `image` under the corruption."""
    if name == "resize" and severity > 0:
        return tf_resize(image, input_size)
    return resize_for_model(corrupt(image, name, severity, seed=seed), input_size)


def conditions() -> list[tuple[str, int]]:
    """(corruption, severity) pairs, clean first."""
    return [("clean", 0)] + [(c.name, s) for c in CORRUPTIONS for s in range(1, len(c.levels) + 1)]


def pick_photos(paths: list[str], labels: list[int], n: int, seed: int) -> list[int]:
    """Indices of a seeded subset of about `n` photos (each class's share rounded) with every
    class in its proportion; all photos when there are no more than `n`."""
    rng = np.random.default_rng(seed)
    labels_arr = np.asarray(labels)
    chosen: list[int] = []
    for label in sorted(set(labels)):
        rows = np.flatnonzero(labels_arr == label)
        take = round(n * len(rows) / len(labels_arr)) if len(labels_arr) > n else len(rows)
        chosen += rng.choice(rows, size=min(take, len(rows)), replace=False).tolist()
    return sorted(chosen, key=lambda i: paths[i])


def summarize(labels: np.ndarray, predicted: dict[tuple[str, int], np.ndarray]) -> dict:
    """Accuracy with its interval per condition, and the photos whose answer flips under
    each corruption's mildest severity (`predicted` keys: (corruption, severity))."""
    clean = predicted[("clean", 0)]
    rows = []
    for (name, severity), answer in predicted.items():
        right = int((answer == labels).sum())
        low, high = wilson_interval(right, len(labels))
        level = None if name == "clean" else BY_NAME[name].levels[severity - 1]
        rows.append(
            {
                "corruption": name,
                "severity": severity,
                "level": level,
                "accuracy": right / len(labels),
                "low": low,
                "high": high,
                "changed": int((answer != clean).sum()),
            }
        )
    flips = {
        c.name: np.flatnonzero(predicted[(c.name, 1)] != clean).tolist()
        for c in CORRUPTIONS
        if (c.name, 1) in predicted
    }
    return {"rows": rows, "flips": flips}
