"""The one path from an image file (or uploaded bytes) to model input.

Training, evaluation and the dashboard's live upload all call
`load_model_input`, so a model sees exactly the same pixels everywhere.
The models themselves take float32 RGB in 0-255 at their input size and
do their own normalization.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# Larger images are refused before decoding: a guard against decompression bombs.
MAX_PIXELS = 40_000_000
# The formats Pillow may open: photos only. EPS/PS/PDF never reach Pillow's
# Ghostscript path, and the exotic decoders are not exposed to uploads.
FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF", "AVIF")
ACCEPTED = "JPEG, PNG, GIF, WebP, BMP, TIFF or AVIF"
# File name endings for upload pickers, matching FORMATS.
EXTENSIONS = ("jpg", "jpeg", "jfif", "png", "gif", "webp", "bmp", "tif", "tiff", "avif")
# High-bit-depth images are scaled to 8 bits in bands of about this many pixels.
BAND_PIXELS = 1 << 20
# Bump whenever a change here can alter the pixels a model sees: caches of decoded
# photos and features, and run identities, are keyed on it (and on Pillow's version).
LOADER_VERSION = 2
RESAMPLE = Image.Resampling.BILINEAR
BACKGROUND = (255, 255, 255)

Source = str | Path | bytes | BinaryIO


class ImageError(ValueError):
    """An image that cannot be used, with the reason in plain words."""


@dataclass
class LoadedImage:
    """An upright 8-bit RGB image and the conversions it needed."""

    image: Image.Image
    notes: list[str] = field(default_factory=list)
    original_mode: str = "RGB"
    original_format: str | None = None


def _refusal(head: bytes) -> str:
    """Why a file Pillow was not allowed to open is refused, from its first bytes."""
    if head.startswith((b"%!PS", b"\xc5\xd0\xd3\xc6")):
        return "PostScript/EPS files are not accepted (only photos in " + ACCEPTED + ")"
    if head.startswith(b"%PDF"):
        return "PDF files are not accepted (only photos in " + ACCEPTED + ")"
    return "not an image in a supported format (" + ACCEPTED + ")"


def _open(source: Source) -> Image.Image:
    """Open (not decode) an image of an allowed format; anything else is an ImageError."""
    if isinstance(source, bytes):
        if not source:
            raise ImageError("the file is empty")
        source = io.BytesIO(source)
    elif isinstance(source, (str, Path)) and Path(source).stat().st_size == 0:
        raise ImageError("the file is empty")
    try:
        return Image.open(source, formats=FORMATS)
    except UnidentifiedImageError:
        if isinstance(source, (str, Path)):
            with open(source, "rb") as fh:
                head = fh.read(8)
        else:
            source.seek(0)
            head = source.read(8)
        raise ImageError(_refusal(head)) from None
    except Image.DecompressionBombError as err:
        raise ImageError(f"image too large: {err}") from None
    except Exception as err:  # a malformed file can make any decoder raise anything
        raise ImageError(f"cannot read the image ({type(err).__name__}: {err})") from None


def _sixteen_bit_to_rgb(img: Image.Image) -> Image.Image:
    """Scale a high-bit-depth image to 8 bits, a band of rows at a time.

    No float64 copy of the whole image: a 40-megapixel 16-bit PNG needs its own
    uint16 array plus one band, not 320 MB.
    """
    arr = np.asarray(img)
    peak = 65535 if arr.max() > 255 else 255
    out = np.empty(arr.shape, np.uint8)
    rows = max(1, BAND_PIXELS // max(1, arr.shape[1]))
    integer = np.issubdtype(arr.dtype, np.integer)
    for top in range(0, arr.shape[0], rows):
        band = np.clip(arr[top : top + rows], 0, peak).astype(
            np.uint32 if integer else np.float32, copy=False
        )
        if integer:  # round(x * 255 / peak) in exact integer arithmetic, in place
            band *= 255
            band += peak // 2
            band //= peak
        else:
            band *= 255.0 / peak
            np.rint(band, out=band)
        out[top : top + rows] = band
    return Image.fromarray(out, mode="L").convert("RGB")


def _has_alpha(img: Image.Image) -> bool:
    return img.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
        img.mode == "P" and "transparency" in img.info
    )


def to_rgb(img: Image.Image) -> tuple[Image.Image, list[str]]:
    """Convert any Pillow mode to 8-bit RGB; returns the image and what was done."""
    mode = img.mode
    if mode == "RGB":
        return img, []
    if mode.startswith("I;16") or mode in ("I", "F"):
        return _sixteen_bit_to_rgb(img), [f"high bit depth ({mode}) scaled to 8-bit RGB"]
    if _has_alpha(img):
        rgba = img.convert("RGBA")
        flat = Image.new("RGB", rgba.size, BACKGROUND)
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat, [f"transparency ({mode}) flattened onto white"]
    names = {"L": "grayscale", "1": "black-and-white", "P": "palette", "CMYK": "CMYK"}
    return img.convert("RGB"), [f"{names.get(mode, mode)} converted to RGB"]


def load_rgb(source: Source, max_pixels: int = MAX_PIXELS) -> LoadedImage:
    """Decode fully, apply EXIF orientation, and convert to 8-bit RGB.

    Raises `ImageError` for anything that is not a usable image: empty,
    unrecognised, truncated, corrupt, or larger than `max_pixels`.
    """
    img = _open(source)
    try:
        width, height = img.size
        if width * height > max_pixels:
            raise ImageError(
                f"image too large ({width}x{height} pixels; the limit is {max_pixels:,})"
            )
        notes = []
        if getattr(img, "n_frames", 1) > 1:
            img.seek(0)
            notes.append(f"animated ({img.n_frames} frames): first frame used")
        original_mode, original_format = img.mode, img.format
        img.load()
        orientation = img.getexif().get(0x0112, 1)
        if orientation not in (1, None):
            img = ImageOps.exif_transpose(img)
            notes.append("rotated upright from its EXIF orientation")
        rgb, converted = to_rgb(img)
        rgb.load()
    except ImageError:
        raise
    except Image.DecompressionBombError as err:
        raise ImageError(f"image too large: {err}") from None
    except Exception as err:  # whatever a decoder raises on a malformed file is a refusal
        raise ImageError(f"cannot decode the image ({type(err).__name__}: {err})") from None
    return LoadedImage(rgb, notes + converted, original_mode, original_format=original_format)


def resize_for_model(img: Image.Image, input_size: tuple[int, int]) -> np.ndarray:
    """Resize (aspect ratio not kept, as the dataset itself) to uint8 HxWx3."""
    height, width = input_size
    if img.size != (width, height):
        img = img.resize((width, height), RESAMPLE)
    return np.asarray(img, dtype=np.uint8)


def resize_like_tensorflow(pixels, input_size: tuple[int, int]):
    """`tf.image.resize` with its defaults (bilinear, no antialiasing), rounded to uint8.

    Not the loader's resize: the common way people feed TensorFlow models, kept here so
    the robustness check and the training view that teaches the CNNs to expect it
    compute the same pixels. `pixels`: uint8 HxWx3 (numpy or a tensor); returns a tensor.
    """
    import tensorflow as tf

    resized = tf.image.resize(
        tf.cast(pixels, tf.float32), input_size, method="bilinear", antialias=False
    )
    return tf.cast(tf.clip_by_value(tf.round(resized), 0, 255), tf.uint8)


def load_resized_like_tensorflow(source: Source, input_size: tuple[int, int]) -> np.ndarray:
    """A photo decoded by the loader but resized by `resize_like_tensorflow`: uint8 HxWx3."""
    upright = np.asarray(load_rgb(source).image)
    return np.asarray(resize_like_tensorflow(upright, input_size))


def loader_identity() -> dict:
    """What decides the pixels `load_model_input` gives: this loader's version and Pillow's."""
    import PIL

    return {"loader": LOADER_VERSION, "pillow": PIL.__version__}


def load_model_input(source: Source, input_size: tuple[int, int]) -> np.ndarray:
    """The pixels a model of `input_size` sees for this image: uint8 HxWx3."""
    return resize_for_model(load_rgb(source).image, input_size)
