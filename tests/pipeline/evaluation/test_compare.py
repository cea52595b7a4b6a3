"""Comparing runs: known differences on real quick runs, and the pure statistics."""

import json

import pandas as pd
import pytest

from pipeline.config import RunConfig
from pipeline.evaluation import stats
from pipeline.evaluation.compare import compare_runs, render
from pipeline.store import artifacts
from pipeline.workflows.study import train_study

pytestmark = pytest.mark.integration


def test_two_proportion_test_known_answer():
    # 80/100 vs 90/100: pooled 0.85, se 0.0505, z 1.98, p 0.0477
    z, p = stats.two_proportion_test(80, 100, 90, 100)
    assert z == pytest.approx(1.980, abs=1e-3) and p == pytest.approx(0.0477, abs=1e-3)
    assert stats.two_proportion_test(0, 0, 5, 10) == (0.0, 1.0)


@pytest.fixture(scope="module")
def excluding_run(real_run, tmp_path_factory):
    """The session's run again, cnn3 only, with 10 of its validation photos excluded."""
    split = real_run.split()
    dropped = sorted(split[split.split == "val"].path)[:10]
    folder = tmp_path_factory.mktemp("excluding")
    exclude = folder / "drop.txt"
    exclude.write_text("\n".join(dropped) + "\n")
    config = RunConfig.from_dict(real_run.manifest["config"]).replace(
        models=("cnn3",), exclude_file=str(exclude), out_dir=str(folder / "artifacts")
    )
    return train_study(config), dropped


def test_compare_reports_shared_photos_a_paired_test_and_the_excluded_photos(
    real_run, excluding_run
):
    other, dropped = excluding_run
    result = compare_runs(real_run, other)
    n_val = len(real_run.predictions("cnn3"))
    [row] = result["models"]
    # The 400-per-class subset takes 10 other photos in place of the excluded ones.
    added = result["data"]["added"]
    added_val = set(added) & set(other.split().query("split == 'val'").path)
    assert row["model"] == "cnn3" and row["shared_photos"] == n_val - 10
    assert row["a"]["n"] == n_val and row["b"]["n"] == n_val - 10 + len(added_val)
    assert row["test"]["method"].startswith("McNemar")
    # The accuracies and their difference, from each run's predictions.csv read here.
    a_file = pd.read_csv(real_run.model_dir("cnn3") / artifacts.PREDICTIONS)
    b_file = pd.read_csv(other.model_dir("cnn3") / artifacts.PREDICTIONS)
    a_right = (a_file.predicted == a_file.label).set_axis(a_file.path)
    b_right = (b_file.predicted == b_file.label).set_axis(b_file.path)
    assert row["a"]["accuracy"] == pytest.approx(a_right.mean(), abs=1e-12)
    assert row["b"]["accuracy"] == pytest.approx(b_right.mean(), abs=1e-12)
    # ... which the runs' own evaluation recorded too.
    assert row["a"]["accuracy"] == pytest.approx(
        real_run.model_record("cnn3")["metrics"]["accuracy"]
    )
    assert row["b"]["accuracy"] == pytest.approx(other.model_record("cnn3")["metrics"]["accuracy"])
    # The difference and the paired test's counts, on the photos both runs scored: not
    # whole-set accuracies over different photos.
    shared = a_right.index.intersection(b_right.index)
    a_on, b_on = a_right[shared], b_right[shared]
    assert row["shared"]["a"]["accuracy"] == pytest.approx(a_on.mean(), abs=1e-12)
    assert row["shared"]["b"]["accuracy"] == pytest.approx(b_on.mean(), abs=1e-12)
    assert row["difference"] == pytest.approx(b_on.mean() - a_on.mean(), abs=1e-12)
    assert row["difference_on"] == f"the {len(shared):,} shared photos"
    assert (row["test"]["a_only"], row["test"]["b_only"]) == (
        int((a_on & ~b_on).sum()),
        int((~a_on & b_on).sum()),
    )
    assert result["only_in_a"] == ["cnn4", "mobilenetv2_frozen", "mobilenetv2_finetuned"]
    assert result["data"]["removed"] == dropped and result["data"]["newly_excluded"] == dropped
    assert len(added) == 10 and not set(added) & set(real_run.split().path)
    assert result["data"]["edited"] == []
    assert set(result["config"]) == {"exclude_file", "models"}
    text = render([result], "table")
    assert "removed (10)" in text and "exclude_file" in text and "cnn3" in text
    assert (
        f"whole validation sets: A {a_right.mean():.2%} of {len(a_right):,}, "
        f"B {b_right.mean():.2%} of {len(b_right):,}"
    ) in text
    assert json.loads(render([result], "json"))["models"][0]["shared_photos"] == n_val - 10


def test_the_cli_compares_runs_by_path(real_run, excluding_run, capsys):
    from pipeline.__main__ import main

    other, _ = excluding_run
    assert main(["compare", str(real_run.path), str(other.path), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["b"] == other.run_id
    assert main(["compare", str(real_run.path)]) == 2
    assert "compare needs two runs or more" in capsys.readouterr().err
