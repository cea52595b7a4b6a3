"""The photos' typical size, from their headers: what the CNNs' input size rule reads.

Upscaling small photos adds work and nothing to see: on a CIFAR-10 dev split, 32x32 photos
trained CNN-3 3.3x faster at 32 px than at 64 px, and 2.3 points more accurately
(docs/data-and-models.md, "Small photos").
"""

from __future__ import annotations

from pathlib import Path
from statistics import median

from PIL import Image, UnidentifiedImageError

from pipeline.data.images import FORMATS

# Photos whose headers are read: a fixed sample, the first by content hash.
SAMPLE = 256
# The CNNs never train below this side: their stride-2 stem and four 2x2 poolings leave
# CNN-4 a 1x1 map at 32 px.
SMALLEST_CNN_INPUT = 32


def _shorter_side(path: Path) -> int | None:
    try:
        with Image.open(path, formats=FORMATS) as img:  # reads the header, not the pixels
            return min(img.size)
    except (OSError, UnidentifiedImageError, ValueError):
        return None


def typical_side(root: Path, samples: list, limit: int = SAMPLE) -> int | None:
    """The median shorter side, in pixels, of up to `limit` photos (None: none readable).

    The photos are the first by content hash, so the answer depends only on the photos.
    """
    chosen = sorted(samples, key=lambda s: s.sha256)[:limit]
    sides = [side for s in chosen if (side := _shorter_side(root / s.path)) is not None]
    return int(median(sides)) if sides else None


def cnn_input_for(requested: int, side: int | None) -> int:
    """The CNNs' input size under the photo-size rule: `requested`, but never above the
    photos' typical side, nor below SMALLEST_CNN_INPUT."""
    if side is None:
        return requested
    return max(min(requested, side), min(requested, SMALLEST_CNN_INPUT))
