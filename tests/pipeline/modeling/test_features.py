"""Caches of decoded photos and features, and the batches built from them."""

import shutil

import numpy as np
import pytest
from PIL import Image

from pipeline.data.dataset import find_classes, hash_samples, list_files
from pipeline.data.images import load_model_input, load_rgb
from pipeline.evaluation.robustness import tf_resize
from pipeline.modeling import features
from tests.imagefactory import write_class_folder


@pytest.fixture
def photos(tmp_path):
    root = write_class_folder(tmp_path / "data", n_per_class=5, size=50)
    return root, hash_samples(root, list_files(root, find_classes(root)))


def test_decoded_cache_holds_exactly_the_shared_loader_pixels(photos, tmp_path):
    root, samples = photos
    images, labels = features.load_or_decode(tmp_path / "cache", str(root), samples, 32, 4)
    assert images.dtype == np.uint8 and images.shape == (10, 32, 32, 3)
    for image, sample in zip(images, samples, strict=True):
        np.testing.assert_array_equal(image, load_model_input(root / sample.path, (32, 32)))
    assert labels.reshape(-1).tolist() == [s.label for s in samples]


def test_the_tensorflow_resize_view_is_its_own_cache_of_tf_image_resize_pixels(photos, tmp_path):
    root, samples = photos
    cache = tmp_path / "cache"
    plain, _ = features.load_or_decode(cache, str(root), samples, 32, 4)
    tf_view, labels = features.load_or_decode(cache, str(root), samples, 32, 4, resize="tensorflow")
    assert tf_view.shape == plain.shape and tf_view.dtype == np.uint8
    for image, sample in zip(tf_view, samples, strict=True):
        upright = load_rgb(root / sample.path).image
        np.testing.assert_array_equal(image, tf_resize(upright, (32, 32)))
    assert not np.array_equal(np.asarray(tf_view), np.asarray(plain))  # 50 -> 32 px aliases
    stores = {
        features.pixel_store(cache, 32).name,
        features.pixel_store(cache, 32, "tensorflow").name,
    }
    assert len(stores) == 2 and all((cache / name).is_dir() for name in stores)
    assert labels.reshape(-1).tolist() == [s.label for s in samples]


def _decode(cache, root, samples, seen):
    return features.load_or_decode(cache, str(root), samples, 32, 4, progress=seen.append)


def test_decoded_cache_is_reused_and_an_interrupted_shard_is_redone(photos, tmp_path):
    root, samples = photos
    cache = tmp_path / "cache"
    seen = []
    _decode(cache, root, samples, seen)
    assert sum(seen) == 10
    _decode(cache, root, samples, seen)
    assert sum(seen) == 10  # nothing decoded the second time
    store = features.pixel_store(cache, 32)
    shutil.rmtree(store.shards()[0])
    (store.folder / ".tmp-1-abc").mkdir()  # what a killed writer leaves: ignored
    images, _ = _decode(cache, root, samples, seen)
    assert sum(seen) == 20
    for image, sample in zip(images, samples, strict=True):
        np.testing.assert_array_equal(image, load_model_input(root / sample.path, (32, 32)))


def test_a_moved_folder_reuses_the_cache_and_an_edited_photo_is_decoded_again(photos, tmp_path):
    root, samples = photos
    cache, seen = tmp_path / "cache", []
    _decode(cache, root, samples, seen)
    moved = tmp_path / "moved"
    shutil.move(root, moved)
    _decode(cache, moved, hash_samples(moved, samples), seen)
    assert sum(seen) == 10  # same content elsewhere: nothing decoded
    edited = moved / samples[0].path
    Image.fromarray(np.full((50, 50, 3), 200, np.uint8)).save(edited)
    images, _ = _decode(cache, moved, hash_samples(moved, samples), seen)
    assert sum(seen) == 11  # only the edited photo
    np.testing.assert_array_equal(images[0], np.full((32, 32, 3), 200, np.uint8))


def test_new_photos_cost_only_their_own_decoding(tmp_path):
    root = write_class_folder(tmp_path / "data", n_per_class=60, size=40)
    samples = hash_samples(root, list_files(root, find_classes(root)))
    first, added = samples[:20] + samples[60:80], samples[20:60] + samples[80:]
    cache, seen = tmp_path / "cache", []
    _decode(cache, root, first, seen)
    assert sum(seen) == 40
    _decode(cache, root, first + added, seen)
    assert sum(seen) == 40 + len(added) == 120


def test_samples_without_content_hashes_are_refused(photos, tmp_path):
    root, samples = photos
    with pytest.raises(ValueError, match="content hash"):
        features.load_or_decode(tmp_path / "c", str(root), list_files(root, ["Cat", "Dog"]), 32, 4)


def _epoch(ds):
    batches = [(x.numpy(), y.numpy()) for x, y in ds]
    return np.concatenate([b[0] for b in batches]), np.concatenate([b[1] for b in batches])


def test_batches_cover_every_row_once_per_epoch_as_float32_reshuffled():
    x = np.arange(10, dtype=np.uint8).reshape(10, 1, 1, 1)
    y = np.arange(10, dtype=np.float32).reshape(10, 1)
    ds = features.array_dataset(x, y, batch_size=4, seed=3)
    first_x, first_y = _epoch(ds)
    assert first_x.dtype == np.float32 and first_x.shape == (10, 1, 1, 1)
    assert sorted(first_y.reshape(-1).tolist()) == list(range(10))
    np.testing.assert_array_equal(first_x.reshape(-1), first_y.reshape(-1))  # rows stay paired
    _, second_y = _epoch(ds)
    assert sorted(second_y.reshape(-1).tolist()) == list(range(10))
    assert second_y.reshape(-1).tolist() != first_y.reshape(-1).tolist()


def test_unseeded_batches_keep_the_row_order():
    x = np.arange(6, dtype=np.float32).reshape(6, 1)
    _, y = _epoch(features.array_dataset(x, x, batch_size=4))
    assert y.reshape(-1).tolist() == list(range(6))


def test_flip_mirrors_about_half_the_images_and_varies_by_epoch():
    x = np.tile(np.arange(4, dtype=np.uint8).reshape(1, 1, 4, 1), (200, 2, 1, 3))
    y = np.arange(200, dtype=np.float32).reshape(200, 1)  # each row's id, since rows reshuffle
    ds = features.array_dataset(x, y, 50, seed=5, flip=True)

    def mirrored_rows() -> set[int]:
        images, ids = _epoch(ds)
        mirrored = images[:, 0, 0, 0] == 3
        assert np.all(mirrored | (images[:, 0, 0, 0] == 0))  # whole rows flip, nothing else
        np.testing.assert_array_equal(images[mirrored][0, 0, :, 0], [3, 2, 1, 0])
        assert sorted(ids.reshape(-1).tolist()) == list(range(200))
        return set(ids[mirrored, 0].astype(int).tolist())

    first, second = mirrored_rows(), mirrored_rows()
    assert 60 < len(first) < 140 and 60 < len(second) < 140
    assert first != second  # a photo mirrored in one epoch is not always mirrored in the next
    assert 60 < len(first ^ second) < 140  # about half the photos change, as independent coins


def test_flip_without_a_seed_is_refused():
    with pytest.raises(ValueError, match="seed"):
        features.array_dataset(np.zeros((2, 1, 1, 3)), np.zeros((2, 1)), 1, flip=True)


def test_the_other_view_replaces_about_its_share_of_rows_afresh_each_epoch():
    x = np.zeros((400, 2, 2, 3), np.uint8)
    other = np.full((400, 2, 2, 3), 9, np.uint8)
    y = np.arange(400, dtype=np.float32).reshape(400, 1)
    ds = features.array_dataset(x, y, 64, seed=2, other_view=other, other_share=0.25)

    def from_other() -> set[int]:
        images, ids = _epoch(ds)
        taken = images[:, 0, 0, 0] == 9
        assert np.all(taken | (images[:, 0, 0, 0] == 0))  # whole rows, one view or the other
        assert np.all(images.reshape(400, -1).min(1) == images.reshape(400, -1).max(1))
        assert sorted(ids.reshape(-1).tolist()) == list(range(400))
        return set(ids[taken, 0].astype(int).tolist())

    first, second = from_other(), from_other()
    assert 60 < len(first) < 140 and 60 < len(second) < 140  # about 100 of 400
    assert first != second
    plain, _ = _epoch(features.array_dataset(x, y, 64, seed=2, other_view=other, other_share=0))
    assert not plain.any()


def test_another_view_must_match_row_for_row_and_needs_a_seed():
    x, y = np.zeros((4, 1, 1, 3)), np.zeros((4, 1))
    with pytest.raises(ValueError, match="row for row"):
        features.array_dataset(x, y, 2, seed=1, other_view=x[:3], other_share=0.5)
    with pytest.raises(ValueError, match="seed"):
        features.array_dataset(x, y, 2, other_view=x, other_share=0.5)
