"""Sweeps: a grid of settings trained as ordinary runs, resumable, shown on their page."""

import io

import pytest

from pipeline.config import make_config
from pipeline.console import Console
from pipeline.errors import PipelineError
from pipeline.workflows.sweep import list_sweeps, parse_grid, run_sweep


def test_grid_values_are_cast_to_each_settings_type():
    base = make_config("quick")
    grid = parse_grid(["cnn_input_size=96,128", "dropout=0.2,0.5", "frozen_mode=features"], base)
    assert grid == {"cnn_input_size": [96, 128], "dropout": [0.2, 0.5], "frozen_mode": ["features"]}


@pytest.mark.parametrize(
    "item, message",
    [
        ("cnn_input_size", "takes KEY=V1,V2"),
        ("out_dir=a,b", "not a setting a sweep can vary"),
        ("cnn_epochs=ten", "is not a int"),
    ],
)
def test_bad_grids_are_plain_errors(item, message):
    with pytest.raises(PipelineError, match=message):
        parse_grid([item], make_config("quick"))


@pytest.mark.integration
def test_a_two_by_two_sweep_makes_four_runs_resumes_and_shows(shared_data, tmp_path, monkeypatch):
    base = make_config(
        "quick",
        data_dir=str(shared_data),
        out_dir=str(tmp_path / "art"),
        models=("cnn3",),
        max_per_class=30,
        batch_size=16,
    )
    grid = parse_grid(["cnn_input_size=24,32", "cnn_epochs=1,2"], base)
    record = run_sweep(base, grid, Console(io.StringIO()))
    assert len(record["runs"]) == 4 and len({r["run_id"] for r in record["runs"]}) == 4
    assert [r["values"] for r in record["runs"]][-1] == {"cnn_input_size": 32, "cnn_epochs": 2}
    stream = io.StringIO()
    again = run_sweep(base, grid, Console(stream))  # the same sweep again: nothing retrained
    assert stream.getvalue().count("already done") == 4 and again["runs"] == record["runs"]
    assert [s["sweep_id"] for s in list_sweeps(tmp_path / "art")] == [record["sweep_id"]]

    from tests.dashboard.conftest import open_app

    at = open_app(tmp_path / "art", monkeypatch, "sweeps")
    assert not at.exception
    table = [d.value for d in at.dataframe if "run" in getattr(d.value, "columns", [])][0]
    assert len(table) == 4 and {"cnn_input_size", "cnn_epochs", "CNN-3"} <= set(table.columns)
    pick = record["runs"][1]["run_id"]
    at.selectbox(key="sweep_open_pick").set_value(pick).run()
    at.button(key="sweep_open").click().run()
    assert not at.exception
    assert at.selectbox(key="run_picker").value.endswith(pick)
