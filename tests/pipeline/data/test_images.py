import io

import numpy as np
import pytest
from PIL import Image, ImageFile

from pipeline.data.images import ImageError, load_model_input, load_rgb, resize_for_model
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


def _with_alarm(seconds: float):
    """Raise TimeoutError in this thread if a call takes longer than `seconds` (a hang)."""
    import contextlib
    import signal

    @contextlib.contextmanager
    def guard():
        def fire(*_):
            raise TimeoutError(f"no answer within {seconds}s")

        old = signal.signal(signal.SIGALRM, fire)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)

    return guard()


def test_fuzz_only_image_errors_escape_and_nothing_hangs():
    from tests.imagefactory import malformed_files, valid_files

    files = valid_files() | malformed_files()
    assert len(files) > 500
    outcomes = {"ok": 0, "refused": 0}
    for name, data in files.items():
        with _with_alarm(10):
            try:
                pixels = load_model_input(data, (20, 20))
            except ImageError as err:
                assert str(err), name
                outcomes["refused"] += 1
                continue
        assert pixels.shape == (20, 20, 3) and pixels.dtype == np.uint8, name
        outcomes["ok"] += 1
    assert outcomes["ok"] > 20 and outcomes["refused"] > 300, outcomes


def test_a_tiff_that_makes_pillow_raise_type_error_is_refused():
    from tests.imagefactory import tiff_without_dimensions

    with Image.open(io.BytesIO(tiff_without_dimensions())) as raw, pytest.raises(TypeError):
        _ = raw.n_frames  # what Pillow itself does with this file
    with pytest.raises(ImageError, match="TypeError: Missing dimensions"):
        load_rgb(tiff_without_dimensions())


@pytest.mark.parametrize("fmt", ["EPS", "PDF", "DDS", "PPM", "TGA", "ICO"])
def test_formats_outside_the_allowlist_are_refused_with_their_reason(fmt):
    data = encode(photo(24, 16, seed=2).convert("RGBA" if fmt in ("DDS", "ICO") else "RGB"), fmt)
    with pytest.raises(ImageError) as err:
        load_rgb(data)
    if fmt == "EPS":
        assert "PostScript/EPS files are not accepted" in str(err.value)
    elif fmt == "PDF":
        assert "PDF files are not accepted" in str(err.value)
    else:
        assert "not an image in a supported format" in str(err.value)


def test_eps_never_reaches_ghostscript(monkeypatch):
    from PIL import EpsImagePlugin

    def forbidden(*args, **kwargs):
        raise AssertionError("Ghostscript was invoked")

    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", forbidden)
    monkeypatch.setattr(EpsImagePlugin, "has_ghostscript", lambda: True)
    eps = encode(photo(32, 32, seed=4), "EPS")
    assert eps.startswith(b"%!PS")
    with pytest.raises(ImageError, match="EPS"):
        load_rgb(eps)


def test_sixteen_bit_conversion_makes_no_float64_copy_of_the_image():
    import tracemalloc

    from pipeline.data.images import _sixteen_bit_to_rgb

    height, width = 3000, 4000
    ramp = (np.arange(height * width, dtype=np.uint32) % 65536).astype(np.uint16)
    image = Image.fromarray(ramp.reshape(height, width))
    tracemalloc.start()
    rgb = _sixteen_bit_to_rgb(image)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # uint16 view of the image (2 B/px) + the 8-bit result (1 B/px) + one band of 1 MP;
    # the old float64 path peaked at over 16 B/px.
    assert peak < 5 * height * width, peak
    expected = (ramp[:8].astype(np.uint32) * 255 + 32767) // 65535
    assert np.asarray(rgb)[0, :8, 0].tolist() == expected.tolist()
