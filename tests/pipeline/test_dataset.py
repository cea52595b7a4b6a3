import numpy as np
import pytest

from pipeline.dataset import (
    find_classes,
    image_dataset,
    is_validation,
    list_files,
    load_dataset,
    subset,
)
from pipeline.errors import PipelineError
from pipeline.images import load_model_input
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


def test_split_is_close_to_the_fraction_for_each_class():
    paths = [f"{c}/{i}.jpg" for c in ("Cat", "Dog") for i in range(5000)]
    for cls in ("Cat", "Dog"):
        share = np.mean([is_validation(p, 3, 0.2) for p in paths if p.startswith(cls)])
        assert 0.18 < share < 0.22


def test_subset_takes_at_most_n_per_class_deterministically(tmp_path):
    root = write_class_folder(tmp_path, n_per_class=10)
    samples = list_files(root, find_classes(root))
    chosen = subset(samples, 4, seed=1)
    assert [s.label for s in chosen].count(0) == 4 and [s.label for s in chosen].count(1) == 4
    assert chosen == subset(list(reversed(samples)), 4, seed=1)


def test_exclusion_list_is_honoured(tmp_path):
    root = write_class_folder(tmp_path / "d", n_per_class=5)
    exclude = tmp_path / "exclude.csv"
    exclude.write_text("path,reason\nCat/0.jpg,no animal\nDog/1.jpg  # mislabeled\n")
    ds = load_dataset(root, seed=1, val_fraction=0.3, exclude_file=str(exclude))
    used = {s.path for s in ds.train + ds.val}
    assert ds.excluded == ["Cat/0.jpg", "Dog/1.jpg"] and not used & set(ds.excluded)


@pytest.mark.parametrize(
    "layout, message",
    [
        ({}, "does not exist"),
        ({"Cat": 3}, "exactly two"),
        ({"Cat": 3, "Dog": 0}, "no usable images"),
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


def test_tf_data_pixels_are_exactly_the_shared_loader_pixels(tmp_path):
    root = write_class_folder(tmp_path, n_per_class=3, size=57)
    samples = list_files(root, find_classes(root))
    batches = list(image_dataset(str(root), samples, (40, 30), batch_size=4))
    images = np.concatenate([x.numpy() for x, _ in batches])
    labels = np.concatenate([y.numpy() for _, y in batches])
    for image, sample in zip(images, samples, strict=True):
        np.testing.assert_array_equal(image, load_model_input(root / sample.path, (40, 30)))
    assert labels.reshape(-1).tolist() == [s.label for s in samples]
