"""Flip averaging inside the saved CNNs: known answers, training unchanged, Grad-CAM."""

import numpy as np
import pytest

from pipeline.evaluation import gradcam
from pipeline.modeling import flip_views, models, saved_models


@pytest.fixture(scope="module", params=[False, True], ids=["mean-head", "mean-and-max-head"])
def pair(request):
    """A CNN-4 with flip averaging and the same weights without it."""
    head = {"max_pool": request.param}
    averaged = models.build_cnn4(48, dropout=0.0, width=8, flip_average=True, **head)
    plain = models.build_cnn4(48, dropout=0.0, width=8, **head)
    plain.set_weights(averaged.get_weights())
    return averaged, plain


@pytest.fixture(scope="module")
def photos():
    return np.random.default_rng(3).uniform(0, 255, (4, 48, 48, 3)).astype(np.float32)


def _logit(p):
    p = np.asarray(p, np.float64)
    return np.log(p / (1 - p))


def test_merge_maps_flips_the_mirror_views_back_and_averages():
    maps = np.array([[[1.0, 0.0]], [[0.0, 3.0]], [[4.0, 2.0]], [[6.0, 0.0]]])  # 2 photos, 2 views
    merged = flip_views.merge_maps(maps, 2)
    np.testing.assert_allclose(merged, [[[1.5, 2.0]], [[0.0, 4.5]]])
    assert flip_views.merge_maps(maps, 1) is maps


def test_the_answer_is_the_mean_logit_of_the_photo_and_its_mirror(pair, photos):
    averaged, plain = pair
    p = averaged.predict_on_batch(photos)[:, 0]
    direct = plain.predict_on_batch(photos)[:, 0]
    mirrored = plain.predict_on_batch(photos[:, :, ::-1])[:, 0]
    expected = 1 / (1 + np.exp(-(_logit(direct) + _logit(mirrored)) / 2))
    np.testing.assert_allclose(p, expected, atol=1e-5)
    assert not np.allclose(direct, mirrored, atol=1e-4)  # the photos are not symmetric
    np.testing.assert_allclose(averaged.predict_on_batch(photos[:, :, ::-1])[:, 0], p, atol=1e-5)


def test_training_sees_one_view_so_it_costs_nothing_more(pair, photos):
    averaged, plain = pair
    a = np.asarray(averaged(photos, training=True))
    b = np.asarray(plain(photos, training=True))
    np.testing.assert_allclose(a, b, atol=1e-6)
    assert flip_views.view_count(averaged) == 2 and flip_views.view_count(plain) == 1


def test_the_saved_file_averages_by_itself(pair, photos, tmp_path):
    averaged, _ = pair
    averaged.save(tmp_path / "m.keras")
    again = saved_models.load(tmp_path / "m.keras")
    assert flip_views.view_count(again) == 2
    np.testing.assert_allclose(
        again.predict_on_batch(photos), averaged.predict_on_batch(photos), atol=1e-6
    )


def test_gradcam_of_a_mirrored_photo_is_the_mirrored_map(pair, photos):
    averaged, _ = pair
    assert gradcam.explainable(averaged) and gradcam.target_layer(averaged) == "relu4"
    maps = gradcam.gradcam_pair(averaged, photos)
    mirrored = gradcam.gradcam_pair(averaged, photos[:, :, ::-1])
    for target in gradcam.TARGETS:
        assert maps[target].shape == (4, 48, 48)
        assert maps[target].min() >= 0.0 and maps[target].max() <= 1.0
        np.testing.assert_allclose(mirrored[target][:, :, ::-1], maps[target], atol=1e-4)
