"""Near-duplicate search: exact answers on generated vectors, and the threshold on real photos
(a photo's re-encoded, resized and cropped copies are found; different photos are not)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from pipeline.evaluation import near_duplicates as nd


def _random_rows(n: int, d: int = 16, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, d)).astype(np.float32)


def test_candidates_are_the_brute_force_top_k_across_blocks():
    query, base = _random_rows(37, seed=1), _random_rows(53, seed=2)
    found = nd.candidates(query, base, k=3, floor=-1.0, block=8)
    sims = nd.unit_rows(query) @ nd.unit_rows(base).T
    assert np.array_equal(found.index, np.argsort(-sims, axis=1)[:, :3])
    np.testing.assert_allclose(found.similarity, -np.sort(-sims, axis=1)[:, :3], rtol=1e-6)


def test_candidates_below_the_floor_and_a_row_itself_are_left_out():
    x = _random_rows(10, d=32, seed=3) - 0.5
    x[6] = x[1] * 2.0
    found = nd.candidates(x, x, k=2, floor=0.99, same=True, block=4)
    assert found.index[1].tolist() == [6, -1] and found.index[6].tolist() == [1, -1]
    assert (found.index[[0, 2, 3, 4, 5, 7, 8, 9]] == -1).all()


def test_no_candidates_in_an_empty_base():
    found = nd.candidates(_random_rows(3), np.zeros((0, 16), np.float32))
    assert found.index.shape == (3, 0)
    assert np.isnan(nd.nearest_similarity(_random_rows(3), np.zeros((0, 16)))).all()


def _signatures(x: np.ndarray) -> np.ndarray:
    return nd.unit_rows(x - x.mean(axis=1, keepdims=True))


def test_a_pair_needs_both_its_features_and_its_pixels_alike():
    features = _random_rows(8, d=32, seed=4) - 0.5
    pixels = _random_rows(8, d=48, seed=5) - 0.5
    features[3], pixels[3] = features[0] + 0.01, pixels[0] + 0.01  # a copy of row 0
    features[5] = features[2] + 0.01  # alike features, other pixels: not a copy
    pairs = nd.within(features, _signatures(pixels))
    assert [(m.a, m.b) for m in pairs] == [(0, 3)]
    assert pairs[0].pooled >= nd.POOLED_FLOOR and pairs[0].pixels >= nd.PIXEL_THRESHOLD


def test_groups_join_chains_and_list_the_largest_first():
    pairs = [nd.Match(a, b, pooled=1.0, pixels=1.0) for a, b in [(0, 5), (5, 7), (2, 3), (8, 8)]]
    assert nd.groups(pairs, 10) == [[0, 5, 7], [2, 3]]
    assert nd.groups([], 4) == []


def test_each_leak_is_listed_once_with_its_closest_training_photo():
    train = _random_rows(20, d=64, seed=6) - 0.5
    train_pixels = _random_rows(20, d=48, seed=7) - 0.5
    noise = np.random.default_rng(10).normal(size=(2, 48)).astype(np.float32)
    train[11], train_pixels[11] = train[7] + 0.02, train_pixels[7] + 0.05 * noise[0]
    val = _random_rows(6, d=64, seed=8) - 0.5
    val_pixels = _random_rows(6, d=48, seed=9) - 0.5
    val[1], val_pixels[1] = train[7] + 0.01, train_pixels[7] + 0.01 * noise[1]
    val[4], val_pixels[4] = train[3], train_pixels[3]
    found = nd.leaks(
        val,
        train,
        val_signatures=_signatures(val_pixels),
        train_signatures=_signatures(train_pixels),
    )
    assert [(m.a, m.b) for m in found] == [(4, 3), (1, 7)]


def test_similarity_histogram_counts_every_value():
    histogram = nd.similarity_histogram(np.array([0.0, 0.5, 0.99, 1.0, np.nan]), bins=4)
    assert histogram["counts"] == [1, 0, 1, 2] and len(histogram["edges"]) == 5


# --- the threshold on real photos ------------------------------------------------------


def _reencoded(img: Image.Image) -> Image.Image:
    buffer = io.BytesIO()
    img.save(buffer, "JPEG", quality=60)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def _resized(img: Image.Image) -> Image.Image:
    w, h = img.size
    return img.resize((w // 2, h // 2), Image.BILINEAR).resize((w, h), Image.BILINEAR)


def _cropped(img: Image.Image) -> Image.Image:
    w, h = img.size
    dx, dy = round(w * 0.025), round(h * 0.025)
    return img.crop((dx, dy, w - dx, h - dy))


@pytest.fixture(scope="module")
def pooled_of(shared_weights):
    """Pooled features of PIL photos through the study's MobileNetV2 at its 160 px."""
    from pipeline.data.images import resize_for_model
    from pipeline.devices import predict_on_batch
    from pipeline.modeling.features import extractor
    from pipeline.modeling.models import build_mobilenetv2
    from pipeline.modeling.weights import resolve_weights

    weights = resolve_weights(str(shared_weights), 160, imagenet_base_url="file:///none")
    ext = extractor(build_mobilenetv2(160, weights), None)

    def pooled(images: list[Image.Image]) -> np.ndarray:
        pixels = np.stack([resize_for_model(img, (160, 160)) for img in images])
        return np.asarray(predict_on_batch(ext, pixels.astype(np.float32)))

    return pooled


def _photos(shared_data, names: list[str]) -> list[Image.Image]:
    return [Image.open(shared_data / name).convert("RGB") for name in names]


DOGS = [f"Dog/{i}.jpg" for i in (0, 2, 3, 4, 5, 6, 7, 8)]


def test_edited_copies_of_real_photos_are_found_as_leaks(shared_data, pooled_of):
    originals = _photos(shared_data, DOGS)
    edits = (_reencoded, _resized, _cropped)
    copies = [edit(img) for img in originals for edit in edits]
    found = nd.leaks(
        pooled_of(copies),
        pooled_of(originals),
        val_signatures=np.stack([nd.signature(img) for img in copies]),
        train_signatures=np.stack([nd.signature(img) for img in originals]),
    )
    assert sorted((m.a, m.b) for m in found) == [(i, i // 3) for i in range(len(copies))]


def test_different_real_photos_of_one_class_are_not(shared_data, pooled_of):
    more = [f"Dog/{i}.jpg" for i in range(9, 40) if i != 18]  # Dog/18.jpg is not in the set
    photos = _photos(shared_data, DOGS + more)
    signatures = np.stack([nd.signature(img) for img in photos])
    assert nd.within(pooled_of(photos), signatures) == []
