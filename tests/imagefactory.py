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
    root: Path, n_per_class: int = 12, size: int = 48, names: tuple[str, ...] = ("Cat", "Dog")
) -> Path:
    """A tiny folder of one sub-folder per name; each class is brighter than the one before
    so a model can learn it (two classes: class 1 is 127 brighter)."""
    step = 127 / max(1, len(names) - 1)
    for label, name in enumerate(names):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(n_per_class):
            image = np.asarray(photo(size, size, seed=label * 1000 + i), dtype=np.float32)
            image = image * 0.5 + step * label
            Image.fromarray(image.clip(0, 255).astype(np.uint8)).save(folder / f"{i}.jpg")
    return root


# Formats Pillow writes, in the modes each takes; the loader must refuse or convert each.
WRITABLE = {
    "JPEG": ("RGB", "L", "CMYK"),
    "PNG": ("RGB", "RGBA", "L", "P", "I;16", "1"),
    "GIF": ("P", "L"),
    "WEBP": ("RGB", "RGBA"),
    "BMP": ("RGB", "L", "P", "1"),
    "TIFF": ("RGB", "RGBA", "L", "I;16", "F", "CMYK", "1"),
    "PPM": ("RGB", "L"),
    "TGA": ("RGB", "L"),
    "PCX": ("RGB", "L"),
    "ICO": ("RGBA",),
    "SGI": ("RGB",),
    "IM": ("RGB",),
    "EPS": ("RGB", "L"),
    "PDF": ("RGB",),
    "DDS": ("RGBA",),
    "QOI": ("RGB",),
}


def valid_files() -> dict[str, bytes]:
    """name -> a well-formed file of every writable format and mode."""
    files = {}
    base = photo(24, 16, seed=9)
    for fmt, modes in WRITABLE.items():
        for mode in modes:
            image = base.convert("L").convert(mode) if mode in ("I;16", "F") else base.convert(mode)
            try:
                files[f"{fmt.lower()}-{mode}"] = encode(image, fmt)
            except (OSError, ValueError, KeyError):  # this Pillow cannot write that pair
                continue
    return files


def tiff_without_dimensions() -> bytes:
    """A two-page TIFF whose second page has no width or length: asking Pillow how many
    frames it has raises TypeError("Missing dimensions")."""
    buffer = io.BytesIO()
    photo(8, 8).save(buffer, "TIFF", save_all=True, append_images=[photo(8, 8, seed=3)])
    data = bytearray(buffer.getvalue())
    first = int.from_bytes(data[4:8], "little")
    entries = int.from_bytes(data[first : first + 2], "little")
    second = int.from_bytes(data[first + 2 + 12 * entries : first + 6 + 12 * entries], "little")
    for i in range(int.from_bytes(data[second : second + 2], "little")):
        at = second + 2 + 12 * i
        if int.from_bytes(data[at : at + 2], "little") in (256, 257):  # ImageWidth, ImageLength
            data[at : at + 2] = (65000 + i).to_bytes(2, "little")
    return bytes(data)


def malformed_files(seed: int = 0) -> dict[str, bytes]:
    """Hundreds of broken variants of every valid file: truncated at spread offsets,
    random bytes behind a valid header, bytes flipped in the body."""
    rng = np.random.default_rng(seed)
    files = {"tiff-no-dimensions": tiff_without_dimensions()}
    for name, data in valid_files().items():
        for cut in sorted({1, 2, 4, 8, 16, 32, 64, *np.linspace(100, len(data) - 1, 6, dtype=int)}):
            if cut < len(data):
                files[f"{name}-cut{cut}"] = data[:cut]
        header = data[: min(64, len(data) // 2)]
        files[f"{name}-junk"] = header + rng.integers(0, 256, 2048, dtype=np.uint8).tobytes()
        flipped = bytearray(data)
        for i in rng.integers(len(data) // 4, len(data), 12):
            flipped[i] ^= 0xFF
        files[f"{name}-flipped"] = bytes(flipped)
    return files
