"""Answers computed without the dashboard, to check what its pages show against.

Each model is loaded from its own .keras file and fed the photo through the pipeline's
one preprocessing path, `pipeline.data.images.load_model_input`, at the input size its
manifest record states: nothing of `dashboard.live` or `dashboard.data` is used.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dashboard.settings import label
from pipeline.data.images import load_model_input
from pipeline.modeling import saved_models
from pipeline.store import artifacts

Photo = Path | bytes


def model_answers(run: artifacts.Run) -> Callable[[Photo], dict[str, float]]:
    """photo -> {model name: P(positive)} of every model of `run` that has its model file."""
    models = {
        name: saved_models.load(run.model_path(name))
        for name in run.model_names()
        if run.model_path(name).is_file()
    }
    sizes = {name: tuple(run.model_record(name)["input_size"]) for name in models}

    def answer(photo: Photo) -> dict[str, float]:
        result = {}
        for name, model in models.items():
            pixels = load_model_input(photo, sizes[name])[None].astype(np.float32)
            result[name] = float(np.asarray(model.predict_on_batch(pixels)).reshape(-1)[0])
        return result

    return answer


def predictions_csv(run: artifacts.Run, name: str) -> pd.DataFrame:
    """A model's predictions.csv, read as a plain CSV."""
    return pd.read_csv(run.model_dir(name) / artifacts.PREDICTIONS)


def counts(labels, predicted) -> list[list[int]]:
    """2x2 confusion counts, rows the true class, columns the predicted one."""
    labels, predicted = np.asarray(labels), np.asarray(predicted)
    return [[int(((labels == t) & (predicted == q)).sum()) for q in (0, 1)] for t in (0, 1)]


# A shown P(positive) has three decimals: it may be off by half of the last one.
SHOWN = 5e-4 + 1e-6


def assert_answers(
    shown: dict[str, dict], expected: dict[str, float], class_names: list[str]
) -> None:
    """One photo's answer table as shown (model label -> column -> value) says, for every
    model in order, that model's own P(positive) and verdict (`expected`: name -> P)."""
    assert list(shown) == [label(name) for name in expected]
    for name, p in expected.items():
        row = shown[label(name)]
        assert float(row[f"P({class_names[1]})"]) == pytest.approx(p, abs=SHOWN), name
        assert row["verdict"] == class_names[int(p >= 0.5)], name
