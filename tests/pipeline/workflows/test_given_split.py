"""A study on real photos laid out as train/ and val/ (links into ../shared): the split is
the folders', and the run, its checks and its overview say so."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from pipeline.config import make_config
from pipeline.console import Console
from pipeline.workflows.study import train_study
from pipeline.workflows.verify import verify_run

pytestmark = pytest.mark.integration


def _link_split(shared: Path, root: Path, per_side: dict[str, int]) -> dict[str, list[str]]:
    """train/ and val/ folders of links to distinct PetImages photos; side -> paths."""
    made: dict[str, list[str]] = {side: [] for side in per_side}
    for name in ("Cat", "Dog"):
        photos = sorted((shared / name).iterdir())
        start = 0
        for side, n in per_side.items():
            (root / side / name).mkdir(parents=True)
            for source in photos[start : start + n]:
                os.symlink(source, root / side / name / source.name)
                made[side].append(f"{side}/{name}/{source.name}")
            start += n
    return made


def _config(data: Path, out: Path):
    """CNN-3 alone, one epoch at 32px: enough to show where each photo went."""
    return make_config(
        "quick",
        data_dir=str(data),
        out_dir=str(out),
        models=("cnn3",),
        cnn_input_size=32,
        cnn_epochs=1,
        robustness_photos=0,
    )


def test_a_study_on_a_given_split_trains_and_scores_exactly_its_sides(tmp_path, shared_data):
    data = tmp_path / "photos"
    made = _link_split(shared_data, data, {"train": 60, "val": 25})
    config = _config(data, tmp_path / "art")
    stream = io.StringIO()
    run = train_study(config, log=Console(stream))
    log = stream.getvalue()
    assert "split: given (train/, val/), as the folders give it" in log
    dataset = run.manifest["dataset"]
    assert dataset["class_names"] == ["Cat", "Dog"]
    assert dataset["split"] == "given (train/, val/)" and dataset["leaks"]["count"] == 0
    split = run.split()
    assert sorted(split[split.split == "train"].path) == sorted(made["train"])
    assert sorted(split[split.split == "val"].path) == sorted(made["val"])
    predictions = run.predictions("cnn3")
    assert sorted(predictions.path) == sorted(made["val"])
    assert set(predictions.label[predictions.path.str.contains("/Dog/")]) == {1}
    assert verify_run(run) == []


def test_the_overview_says_the_split_was_given_and_counts_the_leaks(
    tmp_path, shared_data, monkeypatch
):
    from tests.dashboard.conftest import open_app

    data = tmp_path / "photos"
    _link_split(shared_data, data, {"train": 40, "val": 20})
    leak = sorted((data / "train" / "Dog").iterdir())[0]
    os.symlink(leak.resolve(), data / "val" / "Dog" / "leak.jpg")
    config = _config(data, tmp_path / "art")
    run = train_study(config, log=Console(io.StringIO()))
    assert run.manifest["dataset"]["leaks"] == {"count": 1, "examples": ["val/Dog/leak.jpg"]}
    at = open_app(tmp_path / "art", monkeypatch)
    assert not at.exception
    details = next(t.value for t in at.table if "split" in t.value.index)  # the run's record
    split = details.loc["split"].iloc[0]
    assert split.startswith("given (train/, val/): the folders' own split")
    assert "1 validation photo(s) identical to a training photo (leaks)" in split
    assert any("given split leaks" in w.value for w in at.warning)
