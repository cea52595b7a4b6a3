"""Caches of decoded photos and features, and the batches built from them."""

import numpy as np
import pytest

from pipeline import features
from pipeline.dataset import find_classes, list_files
from pipeline.images import load_model_input
from tests.imagefactory import write_class_folder


@pytest.fixture
def photos(tmp_path):
    root = write_class_folder(tmp_path / "data", n_per_class=5, size=50)
    return root, list_files(root, find_classes(root))


def test_decoded_cache_holds_exactly_the_shared_loader_pixels(photos, tmp_path):
    root, samples = photos
    images, labels = features.load_or_decode(tmp_path / "cache", str(root), samples, 32, 4)
    assert images.dtype == np.uint8 and images.shape == (10, 32, 32, 3)
    for image, sample in zip(images, samples, strict=True):
        np.testing.assert_array_equal(image, load_model_input(root / sample.path, (32, 32)))
    assert labels.reshape(-1).tolist() == [s.label for s in samples]


def test_decoded_cache_is_reused_and_a_partial_one_is_redone(photos, tmp_path):
    root, samples = photos
    cache = tmp_path / "cache"
    seen = []
    features.load_or_decode(cache, str(root), samples, 32, 4, progress=seen.append)
    assert sum(seen) == 10
    features.load_or_decode(cache, str(root), samples, 32, 4, progress=seen.append)
    assert sum(seen) == 10  # nothing decoded the second time
    key = features.pixels_key(32, samples)
    (cache / key / "done").unlink()  # as if interrupted before completion
    features.load_or_decode(cache, str(root), samples, 32, 4, progress=seen.append)
    assert sum(seen) == 20
    assert not (cache / (key + ".partial")).exists()


def test_batches_cover_every_row_once_per_epoch_as_float32():
    x = np.arange(10, dtype=np.uint8).reshape(10, 1, 1, 1)
    y = np.arange(10, dtype=np.float32).reshape(10, 1)
    batches = features.ArrayBatches(x, y, batch_size=4, seed=3)
    assert len(batches) == 3
    rows = np.concatenate([batches[i][1].reshape(-1) for i in range(len(batches))])
    assert sorted(rows.tolist()) == list(range(10))
    assert batches[0][0].dtype == np.float32
    first_order = batches.order.copy()
    batches.on_epoch_end()
    assert not np.array_equal(first_order, batches.order)


def test_flip_mirrors_about_half_the_images_reproducibly():
    x = np.tile(np.arange(4, dtype=np.uint8).reshape(1, 1, 4, 1), (200, 2, 1, 3))
    y = np.zeros((200, 1), np.float32)

    def mirrored_rows(seed):
        batch = features.ArrayBatches(x, y, 200, seed=seed, flip=True)[0][0]
        mirrored = batch[:, 0, 0, 0] == 3
        unchanged = batch[:, 0, 0, 0] == 0
        assert np.all(mirrored | unchanged)
        np.testing.assert_array_equal(batch[mirrored][0, 0, :, 0], [3, 2, 1, 0])
        return mirrored

    flips = mirrored_rows(seed=5)
    assert 60 < flips.sum() < 140
    np.testing.assert_array_equal(flips, mirrored_rows(seed=5))


def test_flip_without_a_seed_is_refused():
    with pytest.raises(ValueError, match="seed"):
        features.ArrayBatches(np.zeros((2, 1)), np.zeros((2, 1)), 1, flip=True)
