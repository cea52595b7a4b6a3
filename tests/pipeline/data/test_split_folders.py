"""Data folders split already (train/ beside val/, validation/ or test/), and classes of
unequal size."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipeline.config import make_config
from pipeline.data.dataset import class_imbalance, find_split_folders, load_dataset
from pipeline.errors import PipelineError
from pipeline.store import manifest
from tests.imagefactory import photo


def _side(root: Path, side: str, counts: dict[str, int], first_seed: int) -> None:
    """Class folders under root/side; every photo differs from every other one."""
    for label, (name, n) in enumerate(counts.items()):
        folder = root / side / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            image = np.asarray(photo(40, 40, seed=first_seed + 100 * label + i), np.float32)
            image = image * 0.5 + (127 if label else 0)
            Image.fromarray(image.clip(0, 255).astype(np.uint8)).save(folder / f"{i}.jpg")


def _given(root: Path, val_name: str = "val", train_n: int = 8, val_n: int = 5) -> Path:
    _side(root, "train", {"Cat": train_n, "Dog": train_n}, first_seed=0)
    _side(root, val_name, {"Cat": val_n, "Dog": val_n}, first_seed=5000)
    return root


@pytest.mark.parametrize("val_name", ["val", "validation", "test"])
def test_a_given_split_is_used_as_given_and_never_taken_for_classes(tmp_path, val_name):
    root = _given(tmp_path / "photos", val_name)
    ds = load_dataset(root, seed=1, val_fraction=0.5)
    assert ds.class_names == ["Cat", "Dog"]  # not ["train", val_name]
    assert ds.given_split == ("train", val_name)
    assert sorted(s.path for s in ds.train) == sorted(
        f"train/{c}/{i}.jpg" for c in ("Cat", "Dog") for i in range(8)
    )
    assert sorted(s.path for s in ds.val) == sorted(
        f"{val_name}/{c}/{i}.jpg" for c in ("Cat", "Dog") for i in range(5)
    )
    assert {s.label for s in ds.val if "/Dog/" in s.path} == {1}
    assert ds.leaks == []
    record = manifest.dataset_record(ds, make_config("quick", data_dir=str(root)))
    assert record["split"] == f"given (train/, {val_name}/)"
    assert record["split_rule"].startswith("the folders' own split")
    assert record["counts"]["val"] == {"Cat": 5, "Dog": 5}


def test_val_is_preferred_to_test_when_both_are_there(tmp_path):
    root = _given(tmp_path / "photos", "val")
    _side(root, "test", {"Cat": 3, "Dog": 3}, first_seed=9000)
    assert find_split_folders(root) == ("train", "val")
    assert all(s.path.startswith("val/") for s in load_dataset(root, 1, 0.2).val)


def test_class_folders_that_differ_between_the_sides_are_named(tmp_path):
    root = _given(tmp_path / "photos")
    shutil.rmtree(root / "val" / "Dog")
    _side(root, "val", {"Cat": 0, "Wolf": 3}, first_seed=7000)
    with pytest.raises(PipelineError, match=r"only in train/: Dog; only in val/: Wolf"):
        load_dataset(root, seed=1, val_fraction=0.2)


def test_a_training_side_alone_is_a_clear_error(tmp_path):
    _side(tmp_path / "photos", "train", {"Cat": 6, "Dog": 6}, first_seed=0)
    with pytest.raises(PipelineError, match=r"holds train/ but not both a train/ folder"):
        load_dataset(tmp_path / "photos", seed=1, val_fraction=0.2)


def test_identical_photos_on_both_sides_are_counted_as_leaks(tmp_path):
    root = _given(tmp_path / "photos")
    shutil.copy(root / "train" / "Dog" / "3.jpg", root / "val" / "Dog" / "copy.jpg")
    shutil.copy(root / "train" / "Cat" / "0.jpg", root / "val" / "Cat" / "copy.jpg")
    ds = load_dataset(root, seed=1, val_fraction=0.2)
    assert ds.leaks == ["val/Cat/copy.jpg", "val/Dog/copy.jpg"]
    record = manifest.dataset_record(ds, make_config("quick", data_dir=str(root)))
    assert record["leaks"] == {"count": 2, "examples": ["val/Cat/copy.jpg", "val/Dog/copy.jpg"]}


def test_the_cap_per_class_applies_to_each_side(tmp_path):
    root = _given(tmp_path / "photos", train_n=9, val_n=6)
    ds = load_dataset(root, seed=1, val_fraction=0.2, max_per_class=4)
    assert ds.counts()["train"] == {"Cat": 4, "Dog": 4}
    assert ds.counts()["val"] == {"Cat": 4, "Dog": 4}


def test_a_class_missing_from_the_validation_side_is_a_clear_error(tmp_path):
    root = _given(tmp_path / "photos")
    for file in (root / "val" / "Cat").iterdir():
        file.write_bytes(b"not a photo")
    with pytest.raises(
        PipelineError, match=r"no usable validation photo of class Cat in .*val/Cat"
    ):
        load_dataset(root, seed=1, val_fraction=0.2)


def test_a_dev_split_is_still_carved_from_the_training_side(tmp_path):
    root = _given(tmp_path / "photos", train_n=20)
    ds = load_dataset(root, seed=1, val_fraction=0.2, dev_fraction=0.3)
    assert ds.held_out == 10  # the given validation photos are left out
    assert all(s.path.startswith("train/") for s in ds.train + ds.val) and ds.val


def test_a_class_under_a_tenth_of_the_largest_is_reported():
    assert class_imbalance({"a": 100, "b": 10}) is None
    warning = class_imbalance({"a": 100, "b": 9, "c": 50})
    assert warning.startswith(
        'class "b" has 9 training photo(s), under a tenth of the 100 of class "a"'
    )
    assert class_imbalance({}) is None
