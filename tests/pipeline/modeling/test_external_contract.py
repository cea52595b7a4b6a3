"""The external-model contract for N classes, checked before any training (generated models)."""

from __future__ import annotations

from pathlib import Path

import keras
import pytest

from pipeline.errors import PipelineError
from pipeline.modeling.external import ExternalModel, load_checked

TEN = [f"class {i}" for i in range(10)]


def _saved(path: Path, width: int, activation: str | None) -> ExternalModel:
    keras.utils.set_random_seed(0)  # the same weights, so the same verdict, every time
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Rescaling(1 / 255)(inputs))
    keras.Model(inputs, keras.layers.Dense(width, activation=activation)(x)).save(path)
    return ExternalModel("mine", str(path), "0" * 64)


def test_a_softmax_of_the_right_width_passes(tmp_path):
    loaded = load_checked(_saved(tmp_path / "m.keras", 10, "softmax"), TEN)
    assert loaded.output_shape == (None, 10)


def test_a_sigmoid_unit_passes_for_two_classes(tmp_path):
    assert load_checked(_saved(tmp_path / "m.keras", 1, "sigmoid"), ["a", "b"])


@pytest.mark.parametrize(
    "width, activation, classes, message",
    [
        (3, "softmax", TEN, r"output shape \(None, 3\); the data has 10 classes"),
        (10, "softmax", ["a", "b"], r"the contract is \(batch, 1\), P\(second class\)"),
        (10, "sigmoid", TEN, "must sum to 1; .* end the model with a softmax"),
        (10, None, TEN, "answers outside"),
    ],
)
def test_a_model_off_the_contract_is_a_plain_error(tmp_path, width, activation, classes, message):
    with pytest.raises(PipelineError, match=message):
        load_checked(_saved(tmp_path / "m.keras", width, activation), classes)
