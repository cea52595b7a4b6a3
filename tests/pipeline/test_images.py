import numpy as np
import pytest
from PIL import Image, ImageFile

from pipeline.images import ImageError, load_model_input, load_rgb, resize_for_model
from tests.imagefactory import UNUSABLE, encode, odd_files, photo


@pytest.mark.parametrize("name", sorted(set(odd_files()) - UNUSABLE))
def test_every_odd_but_valid_file_becomes_upright_8bit_rgb(name):
    loaded = load_rgb(odd_files()[name])
    assert loaded.image.mode == "RGB"
    pixels = resize_for_model(loaded.image, (32, 40))
    assert pixels.shape == (32, 40, 3) and pixels.dtype == np.uint8


@pytest.mark.parametrize("name", sorted(UNUSABLE))
def test_unusable_files_raise_a_plain_image_error(name):
    with pytest.raises(ImageError):
        load_rgb(odd_files()[name])


def test_conversions_are_reported():
    files = odd_files()
    assert load_rgb(files["rgb.jpg"]).notes == []
    assert "grayscale" in load_rgb(files["gray.jpg"]).notes[0]
    assert "CMYK" in load_rgb(files["cmyk.jpg"]).notes[0]
    assert "transparency" in load_rgb(files["alpha.png"]).notes[0]
    assert "first frame" in load_rgb(files["animated.gif"]).notes[0]


RED, GRAY = (255, 0, 0), (128, 128, 128)


def _colour_at(image: Image.Image, xy: tuple[int, int], colour: tuple[int, int, int]) -> bool:
    return bool(np.all(np.abs(np.asarray(image.getpixel(xy), int) - colour) <= 40))  # JPEG


def test_exif_orientation_is_applied():
    stored = Image.new("RGB", (64, 48), GRAY)
    stored.paste(RED, (0, 0, 16, 16))  # a red block in the stored top-left corner
    exif = stored.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display upright
    loaded = load_rgb(encode(stored, quality=95, exif=exif))
    assert loaded.image.size == (48, 64)
    assert any("EXIF" in note for note in loaded.notes)
    # Turned clockwise, the stored top-left corner is the displayed top-right one.
    assert _colour_at(loaded.image, (40, 8), RED)
    for corner in ((8, 8), (8, 56), (40, 56)):  # top-left, bottom-left, bottom-right
        assert _colour_at(loaded.image, corner, GRAY)


def test_sixteen_bit_is_scaled_not_clipped():
    pixels = np.asarray(load_rgb(odd_files()["sixteen.png"]).image)
    assert pixels.min() == 0 and pixels.max() == 255
    assert len(np.unique(pixels)) > 200  # a ramp, not a clipped white block


def test_alpha_is_flattened_onto_white():
    rgba = Image.new("RGBA", (8, 8), (255, 0, 0, 0))
    assert np.asarray(load_rgb(encode(rgba, "PNG")).image)[0, 0].tolist() == [255, 255, 255]


def test_decompression_bomb_is_refused_before_decoding(monkeypatch):
    decoded = []
    load = ImageFile.ImageFile.load

    def spy(image):
        decoded.append(image.size)
        return load(image)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy)
    big = encode(Image.new("L", (9000, 9000)), "PNG")
    with pytest.raises(ImageError, match="too large"):
        load_rgb(big, max_pixels=50_000_000)
    assert decoded == []
    assert load_rgb(big, max_pixels=90_000_000).image.size == (9000, 9000)
    assert decoded  # the spy does see decoding when it happens


def test_path_and_bytes_give_identical_pixels(tmp_path):
    data = encode(photo(120, 90, seed=5))
    (tmp_path / "x.jpg").write_bytes(data)
    a = load_model_input(tmp_path / "x.jpg", (64, 64))
    b = load_model_input(data, (64, 64))
    np.testing.assert_array_equal(a, b)
