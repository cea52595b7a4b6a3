"""A run's near-duplicate report on real photos: edited copies of training photos planted on
the validation side of a given split are every leak found, and the accuracy without them is
over the other photos."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from pipeline.config import make_config
from pipeline.console import Console
from pipeline.workflows.study import train_study
from pipeline.workflows.verify import verify_run
from tests.pipeline.evaluation.test_near_duplicates import _cropped, _reencoded, _resized
from tests.pipeline.workflows.test_given_split import _link_split

pytestmark = pytest.mark.integration

EDITS = {"q60": _reencoded, "half": _resized, "crop": _cropped}


def _given_split(shared: Path, root: Path, per_side: dict[str, int]) -> dict[str, list[Path]]:
    """train/ and val/ folders of links to distinct PetImages photos; side -> links."""
    made = _link_split(shared, root, per_side)
    return {side: [root / path for path in paths] for side, paths in made.items()}


def _plant(data: Path, train: list[Path]) -> dict[str, str]:
    """Edited copies of six training photos (two per edit, either class) saved on the
    validation side; validation path -> the training photo it copies."""
    planted = {}
    for i, source in enumerate(train[::13][:6]):
        edit = list(EDITS)[i % 3]
        label = source.parent.name
        name = f"copy-{edit}-{source.stem}.jpg"
        EDITS[edit](Image.open(source).convert("RGB")).save(data / "val" / label / name, "JPEG")
        planted[f"val/{label}/{name}"] = source.relative_to(data).as_posix()
    return planted


def _config(data: Path, out: Path, models: tuple[str, ...], weights: Path):
    return make_config(
        "quick",
        data_dir=str(data),
        out_dir=str(out),
        weights=str(weights),
        models=models,
        cnn_input_size=32,
        cnn_epochs=1,
        frozen_epochs=2,
        robustness_photos=0,
    )


def test_planted_leaks_are_all_found_and_left_out_of_the_clean_accuracy(
    tmp_path, shared_data, shared_weights
):
    data = tmp_path / "photos"
    made = _given_split(shared_data, data, {"train": 50, "val": 20})
    planted = _plant(data, made["train"])
    stream = io.StringIO()
    run = train_study(
        _config(data, tmp_path / "art", ("mobilenetv2_frozen",), shared_weights),
        log=Console(stream),
    )
    report = run.near_duplicates()
    found = {pair["val"]: pair["train"] for pair in report["leaks"]["pairs"]}
    assert found == planted
    assert report["leaks"]["count"] == 6 and report["photos"] == {"train": 100, "val": 46}
    assert report["leaks"]["different_label"] == 0
    scores = report["models"]["mobilenetv2_frozen"]
    predictions = run.predictions("mobilenetv2_frozen")
    clean = predictions[~predictions.path.isin(planted)]
    assert scores["all"]["n"] == 46 and scores["without_leaks"]["n"] == 40
    expected = float((clean.label == clean.predicted).mean())
    assert scores["without_leaks"]["accuracy"] == pytest.approx(expected)
    assert report["within"]["train"]["groups"] == 0
    assert "6 of 46 validation photo(s) have a near-duplicate in training" in stream.getvalue()
    assert verify_run(run) == []


def test_a_run_without_pooled_features_says_how_to_get_them(tmp_path, shared_data, shared_weights):
    data = tmp_path / "photos"
    _given_split(shared_data, data, {"train": 20, "val": 10})
    stream = io.StringIO()
    run = train_study(
        _config(data, tmp_path / "art", ("cnn3",), shared_weights), log=Console(stream)
    )
    assert run.near_duplicates() is None
    assert "train with --models mobilenetv2_frozen to get them" in stream.getvalue()
    assert run.label_issues() is None
