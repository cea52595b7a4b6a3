"""Models saved before a code move keep loading and answering the same."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from pipeline.modeling import saved_models

LEGACY = Path(__file__).resolve().parents[2] / "fixtures" / "legacy_model"


def test_a_cnn_saved_by_the_flat_layout_loads_and_predicts_the_same():
    expected = json.loads((LEGACY / "expected.json").read_text())
    model = saved_models.load(LEGACY / "cnn3_32px.keras")
    photos = (
        np.random.default_rng(expected["seed"])
        .integers(0, 256, size=expected["shape"])
        .astype("float32")
    )
    got = np.asarray(model.predict_on_batch(photos)).ravel()
    np.testing.assert_allclose(got, expected["outputs"], rtol=0, atol=1e-6)
    assert {layer.__class__.__name__ for layer in model.layers} >= {"FlipViews", "MeanOfViews"}
