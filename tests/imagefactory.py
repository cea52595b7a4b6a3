"""Generated test images of every awkward kind a user's folder or upload may hold."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image


def photo(width: int = 96, height: int = 80, seed: int = 0, mode: str = "RGB") -> Image.Image:
    """A smooth random colour image (compresses like a photo, unlike noise)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
    image = Image.fromarray(small).resize((width, height), Image.Resampling.BICUBIC)
    return image.convert(mode) if mode != "RGB" else image


def encode(image: Image.Image, fmt: str = "JPEG", **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def odd_files() -> dict[str, bytes]:
    """name -> bytes for every kind of file the loader must convert or refuse."""
    base = photo(64, 48, seed=3)
    sixteen = Image.fromarray((np.linspace(0, 65535, 64 * 48).reshape(48, 64)).astype(np.uint16))
    rgba = base.convert("RGBA")
    rgba.putalpha(128)
    exif = base.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display upright
    frames = [photo(40, 30, seed=i) for i in range(3)]
    gif = io.BytesIO()
    frames[0].save(gif, format="GIF", save_all=True, append_images=frames[1:], duration=50)
    full_jpeg = encode(base)
    return {
        "rgb.jpg": full_jpeg,
        "gray.jpg": encode(base.convert("L")),
        "cmyk.jpg": encode(base.convert("CMYK")),
        "alpha.png": encode(rgba, "PNG"),
        "palette.png": encode(base.convert("P"), "PNG"),
        "sixteen.png": encode(sixteen, "PNG"),
        "animated.gif": gif.getvalue(),
        "photo.webp": encode(base, "WEBP"),
        "rotated.jpg": encode(base, exif=exif),
        "wrong_extension.txt": full_jpeg,
        "empty.jpg": b"",
        "not_an_image.jpg": b"this is plain text, not a JPEG",
        "truncated.jpg": full_jpeg[: len(full_jpeg) // 2],
    }


UNUSABLE = {"empty.jpg", "not_an_image.jpg", "truncated.jpg"}


def write_class_folder(
    root: Path, n_per_class: int = 12, size: int = 48, names: tuple[str, str] = ("Cat", "Dog")
) -> Path:
    """A tiny two-class folder; class 1 images are brighter so a model can learn it."""
    for label, name in enumerate(names):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(n_per_class):
            image = np.asarray(photo(size, size, seed=label * 1000 + i), dtype=np.float32)
            image = image * 0.5 + (127 if label else 0)
            Image.fromarray(image.clip(0, 255).astype(np.uint8)).save(folder / f"{i}.jpg")
    return root
