"""The map of the photos: its table and selection (pure), and the page on a real run, whose
points are exactly the run's photos, coloured as asked."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from dashboard import photo_map as mapping
from tests.dashboard.conftest import open_app
from tests.dashboard.test_pages import _values

CLASSES = ["ant", "bee"]


def _points() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "path": ["ant/1.jpg", "ant/2.jpg", "bee/3.jpg", "bee/4.jpg"],
            "split": ["train", "val", "val", "val"],
            "label": [0, 0, 1, 1],
            "x": [0.0, 1.0, 2.0, 3.0],
            "y": [0.0, 1.0, 0.0, 1.0],
        }
    )


def _predictions(said: list[int]) -> pd.DataFrame:
    return pd.DataFrame({"path": ["ant/2.jpg", "bee/3.jpg", "bee/4.jpg"], "predicted": said})


def test_the_table_holds_each_models_answer_on_validation_photos_only():
    table = mapping.map_table(
        _points(), {"cnn3": _predictions([0, 0, 1]), "cnn4": _predictions([1, 0, 1])}, CLASSES
    )
    assert list(table["class"]) == ["ant", "ant", "bee", "bee"]
    assert list(table.answer_cnn3) == ["", "ant", "ant", "bee"]
    assert table.right_cnn3.isna().tolist() == [True, False, False, False]
    assert list(table.right_cnn3[1:]) == [1.0, 0.0, 1.0]
    assert list(table.answers) == [0, 2, 1, 1]  # different answers per photo
    hover = mapping.hover_lines(table, ["cnn3", "cnn4"])
    assert hover[0] == "ant/1.jpg<br>train, labelled ant"
    assert hover[1] == "ant/2.jpg<br>val, labelled ant<br>CNN-3: ant<br>CNN-4: bee"


def test_a_selection_names_the_photos_its_points_carry():
    table = mapping.map_table(_points(), {}, CLASSES)
    selection = {"points": [{"customdata": 2}, {"customdata": [0]}, {"customdata": 2}, {"x": 1}]}
    assert mapping.selected_paths(selection, table) == ["ant/1.jpg", "bee/3.jpg"]
    assert mapping.selected_paths({"points": []}, table) == []
    assert mapping.selected_paths(None, table) == []


def _figure(at) -> dict:
    (chart,) = [c for c in at.get("plotly_chart") if c.key == "photo_map"]
    return json.loads(chart.proto.spec)


@pytest.mark.integration
def test_the_page_draws_every_photo_of_the_run_coloured_by_class(leaky_run, monkeypatch):
    run, _ = leaky_run
    at = open_app(run.path.parent.parent, monkeypatch, "map")
    assert not at.exception, at.exception
    split = run.split()
    traces = {t["name"]: len(_values(t["x"])) for t in _figure(at)["data"]}
    assert traces == {name: int((split.label == i).sum()) for i, name in enumerate(run.class_names)}


@pytest.mark.integration
def test_the_page_colours_a_models_right_and_wrong_answers(leaky_run, monkeypatch):
    run, _ = leaky_run
    at = open_app(run.path.parent.parent, monkeypatch, "map")
    at.radio(key="map_colour").set_value("a model's answer").run()
    assert not at.exception, at.exception
    predictions = run.predictions("mobilenetv2_frozen")
    right = int((predictions.label == predictions.predicted).sum())
    traces = {t["name"]: len(_values(t["x"])) for t in _figure(at)["data"]}
    assert traces.get("MobileNetV2 frozen right", 0) == right
    assert traces.get("MobileNetV2 frozen wrong", 0) == len(predictions) - right
    assert traces["training photo"] == int((run.split().split == "train").sum())
    at.multiselect(key="map_sides").set_value(["val"]).run()
    symbols = {s for t in _figure(at)["data"] for s in t["marker"]["symbol"]}
    assert symbols == {"diamond"}


def test_a_run_without_features_says_how_to_get_a_map(tmp_path, monkeypatch):
    from tests.dashboard.synthetic import THREE_CLASSES, build_run

    out = tmp_path / "art"
    build_run(out, THREE_CLASSES, "things")
    at = open_app(out, monkeypatch, "map")
    assert not at.exception, at.exception
    assert "--models mobilenetv2_frozen" in at.info[0].value
