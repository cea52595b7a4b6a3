import json

import pandas as pd
import pytest

from pipeline.store import artifacts


def _manifest(run_id: str, status: str = "complete") -> dict:
    return {
        "schema_version": artifacts.SCHEMA_VERSION,
        "run_id": run_id,
        "status": status,
        "dataset": {"class_names": ["Cat", "Dog"]},
        "models": [{"name": "cnn3", "file": "models/cnn3/model.keras"}],
    }


def _write_run(out, run_id, status="complete"):
    run_dir = out / artifacts.RUNS / run_id
    artifacts.write_json(run_dir / artifacts.MANIFEST, _manifest(run_id, status))
    stage = artifacts.staging_dir(run_dir, "cnn3")
    history = pd.DataFrame([{c: 1 for c in artifacts.HISTORY_COLUMNS}])
    artifacts.write_csv(stage / artifacts.HISTORY, history)
    artifacts.write_json(stage / artifacts.METRICS, {"accuracy": 0.9})
    artifacts.publish_dir(stage, run_dir / artifacts.MODELS / "cnn3")
    return run_dir


def test_round_trip_through_the_schema(tmp_path):
    run_dir = _write_run(tmp_path, "r1")
    artifacts.point_latest(tmp_path, run_dir)
    run = artifacts.latest_run(tmp_path)
    assert run.run_id == "r1" and run.complete and run.model_names() == ["cnn3"]
    assert run.metrics("cnn3") == {"accuracy": 0.9}
    assert list(run.history("cnn3").columns) == artifacts.HISTORY_COLUMNS
    assert set(run.missing_files("cnn3")) == {
        artifacts.MODEL_FILE,
        artifacts.PREDICTIONS,
        artifacts.CONFUSION,
        artifacts.MISCLASSIFIED,
    }
    with pytest.raises(artifacts.ArtifactError, match="predictions.csv is missing"):
        run.predictions("cnn3")


def test_latest_moves_atomically_and_lists_newest_first(tmp_path):
    artifacts.point_latest(tmp_path, _write_run(tmp_path, "20260101-a"))
    artifacts.point_latest(tmp_path, _write_run(tmp_path, "20260102-b"))
    _write_run(tmp_path, "20260103-c", status="running")
    assert artifacts.latest_run(tmp_path).run_id == "20260102-b"
    assert [r.run_id for r in artifacts.list_runs(tmp_path)] == [
        "20260103-c",
        "20260102-b",
        "20260101-a",
    ]
    assert not list(tmp_path.glob(".latest*"))


def test_publishing_replaces_a_model_folder_whole(tmp_path):
    run_dir = _write_run(tmp_path, "r")
    stage = artifacts.staging_dir(run_dir, "cnn3")
    artifacts.write_json(stage / artifacts.METRICS, {"accuracy": 0.5})
    artifacts.publish_dir(stage, run_dir / artifacts.MODELS / "cnn3")
    folder = run_dir / artifacts.MODELS / "cnn3"
    assert json.loads((folder / artifacts.METRICS).read_text()) == {"accuracy": 0.5}
    assert not (folder / artifacts.HISTORY).exists()
    assert sorted(p.name for p in (run_dir / artifacts.MODELS).iterdir()) == ["cnn3"]


def test_unreadable_runs_are_reported_or_passed_over(tmp_path):
    assert artifacts.latest_run(tmp_path) is None and artifacts.list_runs(tmp_path) == []
    bad = tmp_path / artifacts.RUNS / "bad"
    bad.mkdir(parents=True)
    (bad / artifacts.MANIFEST).write_text("{not json")
    assert artifacts.list_runs(tmp_path) == []
    with pytest.raises(artifacts.ArtifactError, match="not valid JSON"):
        artifacts.read_run(bad)
