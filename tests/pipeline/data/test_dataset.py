import hashlib
import os
import shutil

import numpy as np
import pytest

from pipeline.data.dataset import (
    MIN_PER_CLASS,
    find_classes,
    image_dataset,
    is_validation,
    list_files,
    load_dataset,
    read_exclusions,
    subset,
)
from pipeline.data.images import load_model_input
from pipeline.errors import PipelineError
from tests.imagefactory import UNUSABLE, odd_files, write_class_folder


def test_broken_and_odd_files_are_skipped_or_converted_never_fatal(tmp_path):
    root = write_class_folder(tmp_path / "data", n_per_class=6)
    for name, data in odd_files().items():
        (root / "Cat" / name).write_bytes(data)
    (root / "Dog" / "Thumbs.db").write_bytes(b"\x00\x01junk")
    (root / "Dog" / "sub").mkdir()
    (root / "Dog" / "sub" / "nested.jpg").write_bytes(odd_files()["rgb.jpg"])

    ds = load_dataset(root, seed=1, val_fraction=0.3, cache_file=tmp_path / "scan.json")

    skipped = {s.path: s.reason for s in ds.skipped}
    assert set(skipped) == {f"Cat/{n}" for n in UNUSABLE} | {"Dog/Thumbs.db"}
    assert "empty" in skipped["Cat/empty.jpg"]
    assert "Cat/cmyk.jpg" in ds.converted and "Cat/sixteen.png" in ds.converted
    used = {s.path for s in ds.train + ds.val}
    assert "Dog/sub/nested.jpg" in used and "Cat/wrong_extension.txt" in used
    assert ds.counts()["found"] == 6 * 2 + len(odd_files()) + 2
    # The scan is cached: a second load gives the same verdicts without decoding.
    again = load_dataset(root, seed=1, val_fraction=0.3, cache_file=tmp_path / "scan.json")
    assert again.skipped == ds.skipped


def test_labels_follow_sorted_folder_names(tmp_path):
    root = write_class_folder(tmp_path, n_per_class=2, names=("zebra", "aardvark"))
    assert find_classes(root) == ["aardvark", "zebra"]
    labels = {s.path.split("/")[0]: s.label for s in list_files(root, find_classes(root))}
    assert labels == {"aardvark": 0, "zebra": 1}


def test_split_is_deterministic_disjoint_and_stable_when_the_folder_grows(tmp_path):
    root = write_class_folder(tmp_path / "a", n_per_class=40)
    first = load_dataset(root, seed=7, val_fraction=0.2)
    train, val = {s.path for s in first.train}, {s.path for s in first.val}
    assert not train & val and len(train | val) == 80
    write_class_folder(tmp_path / "a", n_per_class=60)  # 20 more files per class
    grown = load_dataset(root, seed=7, val_fraction=0.2)
    assert val <= {s.path for s in grown.val} and train <= {s.path for s in grown.train}
    other_seed = load_dataset(root, seed=8, val_fraction=0.2)
    assert {s.path for s in other_seed.val} != {s.path for s in grown.val}


def test_split_is_close_to_the_fraction():
    digests = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(10000)]
    share = np.mean([is_validation(d, 3, 0.2) for d in digests])
    assert 0.19 < share < 0.21


def test_identical_photos_under_several_names_never_straddle_the_split(tmp_path):
    root = write_class_folder(tmp_path / "d", n_per_class=30)
    for i in range(30):  # every photo twice more, under other names and in a sub-folder
        (root / "Cat" / "copies").mkdir(exist_ok=True)
        shutil.copy(root / "Cat" / f"{i}.jpg", root / "Cat" / f"copy_{i}.jpg")
        shutil.copy(root / "Cat" / f"{i}.jpg", root / "Cat" / "copies" / f"{i}.jpg")
    ds = load_dataset(root, seed=5, val_fraction=0.3)
    side = {s.path: "val" for s in ds.val} | {s.path: "train" for s in ds.train}
    assert len(ds.duplicates) == 30 and all(len(group) == 3 for group in ds.duplicates)
    for group in ds.duplicates:
        assert len({side[p] for p in group}) == 1, group
    assert ds.counts()["duplicate_groups"] == 30


def test_the_split_follows_content_not_names(tmp_path):
    root = write_class_folder(tmp_path / "d", n_per_class=20)
    before = load_dataset(root, seed=5, val_fraction=0.3)
    for name in ("Cat", "Dog"):
        for f in sorted((root / name).iterdir()):
            f.rename(f.with_name("renamed_" + f.name))
    after = load_dataset(root, seed=5, val_fraction=0.3)
    assert sorted(s.sha256 for s in before.val) == sorted(s.sha256 for s in after.val)


def test_a_dev_split_comes_from_training_photos_only_and_leaves_validation_out(tmp_path):
    root = write_class_folder(tmp_path / "d", n_per_class=60)
    normal = load_dataset(root, seed=5, val_fraction=0.2)
    tuning = load_dataset(root, seed=5, val_fraction=0.2, dev_fraction=0.25)
    normal_train = {s.sha256 for s in normal.train}
    dev, rest = {s.sha256 for s in tuning.val}, {s.sha256 for s in tuning.train}
    assert dev and rest and not dev & rest
    assert dev | rest == normal_train  # carved from the training side, nothing else
    assert not (dev | rest) & {s.sha256 for s in normal.val}
    assert tuning.held_out == len(normal.val) == tuning.counts()["held_out"]
    assert 0.1 < len(dev) / len(normal_train) < 0.4
    again = load_dataset(root, seed=5, val_fraction=0.2, dev_fraction=0.25)
    assert {s.sha256 for s in again.val} == dev
    assert normal.held_out == 0


def test_subset_takes_at_most_n_per_class_deterministically(tmp_path):
    root = write_class_folder(tmp_path, n_per_class=10)
    samples = list_files(root, find_classes(root))
    chosen = subset(samples, 4, seed=1)
    assert [s.label for s in chosen].count(0) == 4 and [s.label for s in chosen].count(1) == 4
    assert chosen == subset(list(reversed(samples)), 4, seed=1)


def test_exclusion_list_is_honoured_and_unmatched_entries_reported(tmp_path):
    root = write_class_folder(tmp_path / "d", n_per_class=20)
    (root / "Cat" / "a, b.jpg").write_bytes((root / "Cat" / "7.jpg").read_bytes())
    exclude = tmp_path / "exclude.csv"
    exclude.write_text(
        'path,reason\nCat/0.jpg,no animal\nDog/1.jpg  # mislabeled\n"Cat/a, b.jpg","x, y"\n'
        "Cat/nope.jpg,typo\n"
    )
    ds = load_dataset(root, seed=1, val_fraction=0.3, exclude_file=str(exclude))
    used = {s.path for s in ds.train + ds.val}
    assert ds.excluded == ["Cat/0.jpg", "Cat/a, b.jpg", "Dog/1.jpg"]
    assert not used & set(ds.excluded)
    assert ds.unmatched_exclusions == ["Cat/nope.jpg"]


def test_plain_exclusion_lists_take_comments_quotes_and_commas(tmp_path):
    plain = tmp_path / "list.txt"
    plain.write_text('# photos to drop\nCat/1.jpg\n"Dog/2,3.jpg"\n./Cat/4.jpg   # blurry\n\n')
    assert read_exclusions(str(plain)) == ["Cat/1.jpg", "Dog/2,3.jpg", "Cat/4.jpg"]


def test_a_non_utf8_exclusion_list_is_a_plain_error(tmp_path):
    bad = tmp_path / "list.txt"
    bad.write_bytes(b"Cat/caf\xe9.jpg\n")
    with pytest.raises(PipelineError, match="not UTF-8"):
        read_exclusions(str(bad))


def test_non_utf8_file_names_are_skipped_with_a_reason(tmp_path):
    root = write_class_folder(tmp_path / "d", n_per_class=20)
    data = (root / "Cat" / "0.jpg").read_bytes()
    with open(os.path.join(os.fsencode(root / "Cat"), b"caf\xe9.jpg"), "wb") as fh:
        fh.write(data)
    ds = load_dataset(root, seed=1, val_fraction=0.3)
    skipped = {s.path: s.reason for s in ds.skipped}
    assert skipped == {
        "Cat/caf\ufffd.jpg": "file name is not valid UTF-8; rename the file to use it"
    }
    assert ds.counts()["found"] == 41 and ds.counts()["usable"] == 40


@pytest.mark.parametrize(
    "layout, message",
    [
        ({}, "does not exist"),
        ({"Cat": 3}, "at least two class folders"),
        ({"Cat": 3, "Dog": 0}, r"Dog/ under .* hold no files"),
        ({"Cat": 12, "Dog": MIN_PER_CLASS - 1}, f"holds {MIN_PER_CLASS - 1} usable photo"),
    ],
)
def test_bad_folders_give_plain_errors(tmp_path, layout, message):
    root = tmp_path / "data"
    if layout:
        root.mkdir()
    for name, n in layout.items():
        write_class_folder(root, n_per_class=n, names=(name, name)) if n else (root / name).mkdir()
    with pytest.raises(PipelineError, match=message):
        load_dataset(root, seed=1, val_fraction=0.2)


def test_a_class_with_no_validation_photo_is_a_plain_error(tmp_path):
    root = write_class_folder(tmp_path / "d", n_per_class=6)
    with pytest.raises(PipelineError, match="no validation photo of class"):
        load_dataset(root, seed=1, val_fraction=0.01)


def test_tf_data_pixels_are_exactly_the_shared_loader_pixels(tmp_path):
    root = write_class_folder(tmp_path, n_per_class=3, size=57)
    samples = list_files(root, find_classes(root))
    batches = list(image_dataset(str(root), samples, (40, 30), batch_size=4))
    images = np.concatenate([x.numpy() for x, _ in batches])
    labels = np.concatenate([y.numpy() for _, y in batches])
    for image, sample in zip(images, samples, strict=True):
        np.testing.assert_array_equal(image, load_model_input(root / sample.path, (40, 30)))
    assert labels.reshape(-1).tolist() == [s.label for s in samples]
