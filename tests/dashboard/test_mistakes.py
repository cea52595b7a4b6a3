import pandas as pd

from dashboard.mistakes import cross_model_mistakes, wide_predictions

NAMES = ["cnn3", "cnn4", "mobilenetv2_frozen", "mobilenetv2_finetuned"]


def _preds(wrong: set[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "path": [p for p in "abcd"],
            "label": [1, 1, 0, 0],
            "p_dog": [0.9, 0.8, 0.1, 0.2],
            "predicted": [
                1 - y if p in wrong else y for p, y in zip("abcd", [1, 1, 0, 0], strict=True)
            ],
        }
    )


def test_cross_model_groups():
    predictions = {
        "cnn3": _preds({"a", "b", "c"}),
        "cnn4": _preds({"a", "b"}),
        "mobilenetv2_frozen": _preds({"a", "d"}),
        "mobilenetv2_finetuned": _preds({"a"}),
    }
    cross = cross_model_mistakes(wide_predictions(predictions), NAMES).set_index("path")
    assert cross.loc["a", "missed_by"] == "missed by all" and cross.loc["a", "n_wrong"] == 4
    assert cross.loc["b", "missed_by"] == "CNNs only"
    assert cross.loc["c", "missed_by"] == "CNNs only"
    assert cross.loc["d", "missed_by"] == "MobileNetV2 only"
    assert list(cross.index) == ["a", "b", "c", "d"]
