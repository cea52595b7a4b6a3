import dataclasses

import keras
import numpy as np
import pytest

from pipeline.config import make_config
from pipeline.modeling import models, precision


@pytest.mark.parametrize(
    "setting, flags, gpus, expected",
    [
        ("auto", ["avx2", "avx512f", "avx512_bf16"], 0, "mixed_bfloat16"),
        ("auto", ["avx2", "amx_bf16"], 0, "mixed_bfloat16"),
        ("auto", ["avx2", "avx512f"], 0, "float32"),  # bfloat16 would be emulated: slower
        ("auto", ["avx512_bf16"], 1, "float32"),  # GPUs: not measured, so float32
        ("float32", ["avx512_bf16"], 0, "float32"),
        ("mixed_bfloat16", [], 0, "mixed_bfloat16"),
    ],
)
def test_auto_means_bfloat16_only_where_the_cpu_has_it(setting, flags, gpus, expected):
    assert precision.resolve(setting, flags, gpus) == expected


def test_an_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="precision"):
        precision.resolve("float16", [])


def test_a_bfloat16_cnn_computes_in_bfloat16_with_a_float32_output():
    model = models.build_cnn3(32, dtype="mixed_bfloat16")
    conv = model.get_layer("conv2")
    assert conv.compute_dtype == "bfloat16" and conv.kernel.dtype == "float32"
    assert model.get_layer("head_output").compute_dtype == "float32"
    x = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    p = keras.ops.convert_to_numpy(model(x))
    assert p.dtype == np.float32 and p.shape == (2, 1)


def _logits(model: keras.Model, x: np.ndarray) -> np.ndarray:
    """The model's logits, recovered from its P(dog) in float64."""
    p = keras.ops.convert_to_numpy(model(x)).reshape(-1).astype(np.float64)
    return np.log(p) - np.log1p(-p)


def test_what_is_saved_computes_in_float32_with_the_trained_weights():
    from pipeline.modeling.train import _as_float32, build_cnn

    config = dataclasses.replace(make_config("quick"), cnn_input_size=32)
    trained = build_cnn("cnn4", config, "mixed_bfloat16")
    # An untrained head says ~0.5 to everything, which any two models agree on. This one
    # sums the (non-negative) pooled features instead, so P(dog) grows with brightness.
    head = trained.get_layer("head_output")
    kernel, bias = head.get_weights()
    head.set_weights([np.full_like(kernel, 4 / len(kernel)), np.zeros_like(bias)])
    saved = _as_float32(trained, "cnn4", config)
    assert {layer.compute_dtype for layer in saved.layers[1:]} == {"float32"}
    for a, b in zip(trained.get_weights(), saved.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    x = np.random.default_rng(1).uniform(0, 255, (16, 32, 32, 3)).astype("float32")
    x *= np.linspace(0.05, 1, 16, dtype="float32")[:, None, None, None]  # dark to bright
    z16, z32 = _logits(trained, x), _logits(saved, x)
    p32 = 1 / (1 + np.exp(-z32))
    assert p32.max() - p32.min() > 0.2, p32  # the answers below are not all ~0.5
    # bfloat16 keeps 8 significant bits: each rounding errs by up to 2^-9 (0.2%) relative,
    # and a dozen lie between the photo and the head (rescaling, 4 convs, 3 batch norms,
    # the poolings), so the two logits agree within ~10 * 2^-9 = 2% of their size (found:
    # about 0.6%). Computing in float32 throughout would agree to ~1e-7 instead.
    relative = np.abs(z16 - z32) / np.abs(z32)
    assert relative.max() < 0.02, relative
    assert relative.max() > 1e-4, relative  # the trained model really computes in bfloat16
