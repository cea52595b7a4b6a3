"""The photos' typical size, and the CNNs' input size the photo-size rule settles from it."""

from __future__ import annotations

from statistics import median

from PIL import Image

from pipeline.data.dataset import list_files, load_dataset
from pipeline.data.photo_size import SMALLEST_CNN_INPUT, cnn_input_for, typical_side
from tests.imagefactory import photo


def _write(root, sizes_by_class: dict[str, list[tuple[int, int]]]):
    for name, sizes in sizes_by_class.items():
        (root / name).mkdir(parents=True)
        for i, (w, h) in enumerate(sizes):
            photo(w, h, seed=i + 500 * len(name)).save(root / name / f"{i}.png")
    return root


def test_the_typical_side_is_the_median_shorter_side(tmp_path):
    small, large = [(60, 40)] * 9, [(300, 200)] * 6  # the shorter side: 40 or 200
    root = _write(tmp_path / "d", {"a": small, "bb": small[:3] + large})
    ds = load_dataset(root, seed=1, val_fraction=0.25)
    sides = sorted(min(Image.open(root / s.path).size) for s in ds.train)
    assert ds.typical_side == median(sides) == 40  # 12 of the 15 photos are small


def test_the_typical_side_skips_what_is_not_a_photo(tmp_path):
    root = _write(tmp_path / "d", {"a": [(50, 70)] * 3})
    (root / "a" / "notes.png").write_bytes(b"not an image")
    assert typical_side(root, list_files(root, ["a"])) == 50
    assert typical_side(root, []) is None


def test_the_rule_never_upscales_past_the_photos_nor_goes_below_32px():
    assert cnn_input_for(96, 180) == 96  # cats and dogs: unchanged
    assert cnn_input_for(96, 32) == 32  # CIFAR-10
    assert cnn_input_for(96, 57) == 57
    assert cnn_input_for(96, 16) == SMALLEST_CNN_INPUT == 32  # tiny photos: 32 px at least
    assert cnn_input_for(24, 500) == 24  # a size asked for below 32 px is kept
    assert cnn_input_for(96, None) == 96  # no readable photo: as asked
