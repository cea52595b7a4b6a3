import numpy as np
import pytest
from PIL import Image

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


def test_exif_orientation_is_applied():
    loaded = load_rgb(odd_files()["rotated.jpg"])  # stored 64x48, displayed 48x64
    assert loaded.image.size == (48, 64)
    assert any("EXIF" in note for note in loaded.notes)


def test_sixteen_bit_is_scaled_not_clipped():
    pixels = np.asarray(load_rgb(odd_files()["sixteen.png"]).image)
    assert pixels.min() == 0 and pixels.max() == 255
    assert len(np.unique(pixels)) > 200  # a ramp, not a clipped white block


def test_alpha_is_flattened_onto_white():
    rgba = Image.new("RGBA", (8, 8), (255, 0, 0, 0))
    assert np.asarray(load_rgb(encode(rgba, "PNG")).image)[0, 0].tolist() == [255, 255, 255]


def test_decompression_bomb_is_refused_before_decoding():
    big = encode(Image.new("L", (9000, 9000)), "PNG")
    with pytest.raises(ImageError, match="too large"):
        load_rgb(big, max_pixels=50_000_000)
    assert load_rgb(big, max_pixels=90_000_000).image.size == (9000, 9000)


def test_path_and_bytes_give_identical_pixels(tmp_path):
    data = encode(photo(120, 90, seed=5))
    (tmp_path / "x.jpg").write_bytes(data)
    a = load_model_input(tmp_path / "x.jpg", (64, 64))
    b = load_model_input(data, (64, 64))
    np.testing.assert_array_equal(a, b)
