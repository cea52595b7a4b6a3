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


@pytest.mark.integration
def test_sweep_repeats_trains_each_point_k_times_on_one_split(shared_data, tmp_path, capsys):
    from pipeline.__main__ import main
    from pipeline.config import RunConfig
    from pipeline.store import artifacts

    out = tmp_path / "art"
    code = main(
        ["sweep", "--profile", "quick", "--data-dir", str(shared_data), "--out", str(out)]
        + ["--models", "cnn3", "--max-per-class", "30", "--cnn-input-size", "32"]
        + ["--robustness-photos", "0", "--set", "cnn_epochs=1,2", "--repeats", "2"]
    )
    assert code == 0, capsys.readouterr().err
    (record,) = list_sweeps(out)
    assert [r["values"] for r in record["runs"]] == [
        {"cnn_epochs": e, "repeat": k} for e in (1, 2) for k in (0, 1)
    ]
    runs = [artifacts.read_run(out / artifacts.RUNS / r["run_id"]) for r in record["runs"]]
    seeds = [RunConfig.from_dict(r.manifest["config"]).training_seed for r in runs]
    assert seeds[0] == seeds[2] != seeds[1] == seeds[3]  # repeat k: one seed at every point
    assert all(r.split().equals(runs[0].split()) for r in runs)
