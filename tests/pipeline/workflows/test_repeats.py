"""A real repeat group (K = 3) on real photos, through the command line: three ordinary runs
on one split with three training seeds, the group record and its statistics, a resume that
trains nothing, a larger K that adds only the new repeat, and a model without randomness
(the user's own, already trained) whose repeats have no spread."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest

from pipeline.config import RunConfig
from pipeline.store import artifacts
from pipeline.workflows.repeats import REPEATS, group_id

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]


def _fixed_model(path: Path) -> Path:
    """A user's model: trained already, so every repeat scores it alike."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((32, 32, 3), name="image")
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(x)).save(path)
    return path


def _train(args: list[str]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", "train", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


@pytest.fixture(scope="module")
def group(tmp_path_factory, shared_data):
    tmp = tmp_path_factory.mktemp("repeats")
    mine = _fixed_model(tmp / "mine.keras")
    common = [
        "--profile", "quick", "--data-dir", str(shared_data), "--out", str(tmp / "art"),
        "--models", "cnn3", "--external", f"mine={mine}", "--max-per-class", "60",
        "--cnn-input-size", "32", "--cnn-epochs", "1", "--robustness-photos", "0",
    ]  # fmt: skip
    first = _train([*common, "--repeats", "3"])
    return tmp / "art", common, first


def _record(out: Path) -> dict:
    (file,) = (out / REPEATS).glob("*.json")
    return json.loads(file.read_text())


def test_three_repeats_are_three_runs_on_one_split_with_three_seeds(group):
    out, _, said = group
    record = _record(out)
    runs = [artifacts.read_run(out / artifacts.RUNS / e["run_id"]) for e in record["runs"]]
    assert [e["values"] for e in record["runs"]] == [{"repeat": k} for k in range(3)]
    assert all(r.complete for r in runs)
    configs = [RunConfig.from_dict(r.manifest["config"]) for r in runs]
    assert [c.repeat for c in configs] == [0, 1, 2]
    assert configs[0].training_seed == configs[0].seed  # repeat 0 is the plain run
    assert len({c.training_seed for c in configs}) == 3
    assert all(r.split().equals(runs[0].split()) for r in runs)  # the split never changes
    p = [r.predictions("cnn3").p_dog.to_numpy() for r in runs]
    assert not np.allclose(p[0], p[1]) and not np.allclose(p[1], p[2])  # other seeds
    assert record["group_id"] == group_id(RunConfig.from_dict(record["base"]))
    summary = record["summary"]
    cnn = summary["models"]["cnn3"]
    assert cnn["per_repeat"] == pytest.approx([r.metrics("cnn3")["accuracy"] for r in runs])
    assert cnn["mean"] == pytest.approx(np.mean(cnn["per_repeat"]))
    assert cnn["low"] <= cnn["mean"] <= cnn["high"]
    assert f"3 repeats on {summary['photos']:,} validation photos:" in said
    assert summary["pairs"][0]["verdict"] in said


def test_a_model_without_randomness_has_no_seed_spread(group):
    out, _, _ = group
    mine = _record(out)["summary"]["models"]["mine"]
    assert mine["seed_std"] == 0 and len(set(mine["per_repeat"])) == 1


def test_wrong_counts_per_photo_agree_with_the_runs(group):
    out, _, _ = group
    record = _record(out)
    (file,) = (out / REPEATS).glob("*.wrong.csv")
    wrong = pd.read_csv(file).set_index("path")
    runs = [artifacts.read_run(out / artifacts.RUNS / e["run_id"]) for e in record["runs"]]
    expected = sum(
        (r.predictions("cnn3").set_index("path").eval("predicted != label")).astype(int)
        for r in runs
    )
    assert wrong.cnn3.sort_index().tolist() == expected.sort_index().tolist()
    assert wrong.cnn3.between(0, 3).all()


def test_the_same_command_resumes_and_a_larger_k_adds_only_the_new_repeat(group):
    out, common, _ = group
    before = {r.run_id for r in artifacts.list_runs(out)}
    again = _train([*common, "--repeats", "3"])
    assert again.count("already done") == 3 and "Starting run" not in again
    assert {r.run_id for r in artifacts.list_runs(out)} == before
    more = _train([*common, "--repeats", "4"])
    assert more.count("already done") == 3 and more.count("Starting run") == 1
    record = _record(out)
    assert [e["values"]["repeat"] for e in record["runs"]] == [0, 1, 2, 3]
    assert len(record["summary"]["runs"]) == 4


def test_compare_of_two_groups_says_whether_a_setting_beats_seed_noise(group):
    out, common, _ = group
    _train([*common, "--cnn-epochs", "2", "--repeats", "2"])
    first, second = sorted(
        (json.loads(f.read_text()) for f in (out / REPEATS).glob("*.json")),
        key=lambda r: r["created"],
    )
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", "compare", first["group_id"], second["group_id"]]
        + ["--out", str(out), "--format", "json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["config"] == {"cnn_epochs": [1, 2]}
    changes = {m["model"]: m for m in result["models"]}
    k_a = len(first["summary"]["runs"])
    mine = changes["mine"]  # the same fixed model in both groups: no change, no noise
    assert mine["difference"] == 0 and mine["low"] == mine["high"] == 0
    assert not mine["beyond_noise"]
    assert mine["verdict"].startswith(f"mine: A and B tie by 0.00 points ({k_a} vs 2 repeats)")
    cnn = changes["CNN-3"]
    expected = (
        second["summary"]["models"]["cnn3"]["mean"] - first["summary"]["models"]["cnn3"]["mean"]
    )
    assert cnn["difference"] == pytest.approx(expected)  # both groups scored the same photos
    assert cnn["low"] <= cnn["difference"] <= cnn["high"]
    text = subprocess.run(
        [sys.executable, "-m", "pipeline", "compare", first["group_id"], second["group_id"]]
        + ["--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    ).stdout
    assert cnn["verdict"] in text and "cnn_epochs: 1 -> 2" in text
