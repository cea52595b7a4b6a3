"""The near-duplicates page and the overview on a real run with planted leaks (edited copies of
training photos on the validation side of a given split): the numbers shown are the report's."""

from __future__ import annotations

import io

import pytest

from pipeline.console import Console
from pipeline.workflows.study import train_study
from tests.dashboard.conftest import open_app
from tests.pipeline.evaluation.test_leak_report import _config, _given_split

pytestmark = pytest.mark.integration


def test_the_page_shows_each_leak_beside_its_training_photo(leaky_run, monkeypatch):
    run, planted = leaky_run
    at = open_app(run.path.parent.parent, monkeypatch, "leaks")
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Leaks into validation"] == "6"
    assert metrics["…with another label"] == "0"
    images = [c for element in at.get("image") for c in element.captions]
    shown = [c for c in images if c.startswith("validation: ")]
    assert sorted(c.removeprefix("validation: ") for c in shown) == sorted(planted)
    for train in planted.values():
        assert f"training: {train}" in images
    (scores,) = [d.value for d in at.dataframe if "without leaks (40)" in d.value.columns]
    row = scores.iloc[0]
    report = run.near_duplicates()["models"]["mobilenetv2_frozen"]
    assert row["without leaks (40)"] == pytest.approx(report["without_leaks"]["accuracy"])
    assert row["on the leaks (6)"] == pytest.approx(report["leaks_only"]["accuracy"])


def test_the_overview_shows_the_accuracy_without_leaks(leaky_run, monkeypatch):
    run, _ = leaky_run
    at = open_app(run.path.parent.parent, monkeypatch)
    assert not at.exception, at.exception
    assert any("6 validation photo(s) have a near-duplicate" in w.value for w in at.warning)
    (board,) = [d.value for d in at.dataframe if "val accuracy" in d.value.columns]
    board = getattr(board, "data", board)  # a Styler's frame
    clean = run.near_duplicates()["models"]["mobilenetv2_frozen"]["without_leaks"]
    assert board["without leaks"].iloc[0] == pytest.approx(clean["accuracy"])


def test_a_run_without_features_says_how_to_get_them(tmp_path, shared_data, monkeypatch):
    data = tmp_path / "photos"
    _given_split(shared_data, data, {"train": 20, "val": 10})
    run = train_study(_config(data, tmp_path / "art", ("cnn3",), None), log=Console(io.StringIO()))
    at = open_app(run.path.parent.parent, monkeypatch, "leaks")
    assert not at.exception, at.exception
    assert "--models mobilenetv2_frozen" in at.info[0].value
