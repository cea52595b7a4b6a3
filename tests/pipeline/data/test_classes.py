"""Class folders: any number from 2 to MAX_CLASSES, and plain errors for folders that are not."""

from __future__ import annotations

import pytest

from pipeline.data.dataset import MAX_CLASSES, find_classes, load_dataset
from pipeline.errors import PipelineError
from tests.imagefactory import write_class_folder

ODD_NAMES = ('café, "au lait"', "Zürich lake", "plain")


def test_three_classes_are_labelled_by_sorted_folder_name(tmp_path):
    root = write_class_folder(tmp_path / "d", n_per_class=12, names=("tulip", "daisy", "rose"))
    ds = load_dataset(root, seed=1, val_fraction=0.3)
    assert ds.class_names == ["daisy", "rose", "tulip"]
    for sample in ds.samples:
        assert sample.path.split("/")[0] == ds.class_names[sample.label]
    counts = ds.counts()
    assert {k: counts["train"][k] + counts["val"][k] for k in ds.class_names} == dict.fromkeys(
        ds.class_names, 12
    )


def test_class_names_with_commas_quotes_and_accents_work(tmp_path):
    root = write_class_folder(tmp_path / "d", n_per_class=20, names=ODD_NAMES)
    ds = load_dataset(root, seed=1, val_fraction=0.3)
    assert ds.class_names == sorted(ODD_NAMES)
    assert {s.path.split("/")[0] for s in ds.samples} == set(ODD_NAMES)


def test_a_photo_folder_one_level_too_deep_says_what_to_pass(tmp_path):
    write_class_folder(tmp_path / "data" / "PetImages", n_per_class=6)
    with pytest.raises(PipelineError) as err:
        find_classes(tmp_path / "data")
    message = str(err.value)
    assert "Cat/, Dog/" in message and "one level deeper" in message
    assert f"--data-dir {tmp_path / 'data' / 'PetImages'}" in message


def test_one_class_folder_is_a_plain_error(tmp_path):
    write_class_folder(tmp_path / "d", n_per_class=6, names=("only",))
    with pytest.raises(PipelineError, match=r"at least two class folders.*found 1: only/"):
        find_classes(tmp_path / "d")


def test_class_folders_differing_only_in_case_are_refused(tmp_path):
    write_class_folder(tmp_path / "d", n_per_class=6, names=("Cat", "cat", "Dog"))
    with pytest.raises(PipelineError, match=r"differ only in case: Cat/ and cat/"):
        find_classes(tmp_path / "d")


def test_an_empty_class_folder_is_named(tmp_path):
    root = write_class_folder(tmp_path / "d", n_per_class=6, names=("a", "b"))
    (root / "c").mkdir()
    with pytest.raises(PipelineError, match=r"c/ under .* hold no files"):
        find_classes(root)


def test_more_than_the_class_limit_is_refused(tmp_path):
    root = tmp_path / "d"
    for i in range(MAX_CLASSES + 1):
        (root / f"c{i:04d}").mkdir(parents=True)
    with pytest.raises(PipelineError, match=f"holds {MAX_CLASSES + 1:,} folders; at most"):
        find_classes(root)


def test_a_class_with_fewer_than_five_photos_is_named(tmp_path):
    root = write_class_folder(tmp_path / "d", n_per_class=10, names=("a", "b"))
    write_class_folder(root, n_per_class=3, names=("tiny",))
    with pytest.raises(PipelineError, match=r"class tiny holds 3 usable photo\(s\)"):
        load_dataset(root, seed=1, val_fraction=0.3)


def test_a_class_missing_on_one_side_of_a_given_split_is_named(tmp_path):
    write_class_folder(tmp_path / "d" / "train", n_per_class=6, names=("a", "b", "c"))
    write_class_folder(tmp_path / "d" / "val", n_per_class=6, names=("a", "b"))
    with pytest.raises(PipelineError, match=r"only in train/: c; only in val/: none"):
        load_dataset(tmp_path / "d", seed=1, val_fraction=0.3)
