"""The Suspect labels page on a real run: the likely label errors of every photo, training
photos included, beside the all-models-agree suspects; the numbers are the run's files."""

from __future__ import annotations

import pytest

from pipeline.store import artifacts
from tests.dashboard.conftest import open_app

pytestmark = pytest.mark.integration


def _summary(run: artifacts.Run) -> dict:
    import json

    return json.loads((run.path / artifacts.LABEL_ISSUES_SUMMARY).read_text())


def test_the_page_counts_both_kinds_and_shows_the_top_label_errors(real_run, monkeypatch):
    at = open_app(real_run.path.parent.parent, monkeypatch, "suspects")
    assert not at.exception, at.exception
    summary, issues = _summary(real_run), real_run.label_issues()
    metrics = {m.label: m for m in at.metric}
    assert metrics["Likely label errors (every photo)"].value == str(summary["count"])
    assert metrics["Likely label errors (every photo)"].delta == (
        f"{summary['in_training']:,} in training"
    )
    assert summary["in_training"] == int((issues.split == "train").sum())
    every = real_run.analysis()["suspects"]["count"]
    assert metrics["Every model disagrees (validation photos)"].value == str(every)
    captions = [c for element in at.get("image") for c in element.captions]
    first, names = issues.iloc[0], real_run.class_names
    said = f"#1 {first.split}: labelled {names[first.label]}, looks like {names[first.suggested]}"
    assert any(c.startswith(said) for c in captions), captions


def test_the_training_photos_alone_can_be_listed(real_run, monkeypatch):
    at = open_app(real_run.path.parent.parent, monkeypatch, "suspects")
    at.radio(key="label_issues_side").set_value("training only").run()
    assert not at.exception, at.exception
    (table,) = [d.value for d in at.dataframe if "suggested_class" in d.value.columns]
    issues = real_run.label_issues()
    assert list(table.path) == list(issues[issues.split == "train"].path)


def test_a_weak_head_is_said_to_flag_hard_photos_not_only_wrong_labels(
    real_run, tmp_path, monkeypatch
):
    import json
    import shutil

    at = open_app(real_run.path.parent.parent, monkeypatch, "suspects")
    assert _summary(real_run)["out_of_fold_accuracy"] >= 0.9
    assert not any("cannot classify" in w.value for w in at.warning)

    target = tmp_path / artifacts.RUNS / real_run.path.name
    shutil.copytree(real_run.path, target)
    summary = _summary(real_run) | {"out_of_fold_accuracy": 0.7242}
    (target / artifacts.LABEL_ISSUES_SUMMARY).write_text(json.dumps(summary))
    artifacts.point_latest(tmp_path, target)
    at = open_app(tmp_path, monkeypatch, "suspects")
    assert not at.exception, at.exception
    (warning,) = [w.value for w in at.warning if "cannot classify" in w.value]
    assert "only 72.42% of the photos out of fold" in warning
    assert f"{summary['count']:,} flags" in warning
