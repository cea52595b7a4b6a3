"""`train --dedupe-near`: near-duplicate groups split across the sides move whole to one side;
on real photos with planted edited copies, every copy ends on its original's side."""

from __future__ import annotations

import io
import os

import pytest
from PIL import Image

from pipeline.config import make_config
from pipeline.console import Console
from pipeline.data.dataset import Sample, load_dataset
from pipeline.workflows.near_dedupe import moves
from pipeline.workflows.study import train_study
from pipeline.workflows.verify import verify_run
from tests.pipeline.evaluation.test_leak_report import EDITS


def test_a_split_group_moves_to_the_side_of_its_smallest_hash():
    samples = [Sample(f"{i}.jpg", 0, sha) for i, sha in enumerate(["c", "a", "b", "d", "e"])]
    val = {"0.jpg", "3.jpg"}
    # group 0-1-2: "1.jpg" (hash "a") is in training, so 0.jpg moves there;
    # group 3-4: "3.jpg" (hash "d") is in validation, so 4.jpg moves there.
    moved = moves(samples, val, [[0, 1, 2], [3, 4]])
    assert moved == {"0.jpg": False, "4.jpg": True}
    assert moves(samples, {"0.jpg", "1.jpg", "2.jpg"}, [[0, 1, 2]]) == {}


def _photos_with_copies(shared, root, per_class: int, copies: int) -> dict[str, str]:
    """Links to real photos in class folders, and edited copies of some of them beside them;
    copy -> original (relative paths)."""
    planted = {}
    for name in ("Cat", "Dog"):
        (root / name).mkdir(parents=True)
        photos = sorted((shared / name).iterdir())[:per_class]
        for source in photos:
            os.symlink(source, root / name / source.name)
        for i, source in enumerate(photos[:copies]):
            edit = list(EDITS)[i % 3]
            copy = f"{name}/copy-{edit}-{source.stem}.jpg"
            EDITS[edit](Image.open(source).convert("RGB")).save(root / copy, "JPEG")
            planted[copy] = f"{name}/{source.name}"
    return planted


@pytest.mark.integration
def test_every_planted_copy_trains_or_validates_with_its_original(
    tmp_path, shared_data, shared_weights
):
    data = tmp_path / "photos"
    planted = _photos_with_copies(shared_data, data, per_class=40, copies=12)
    plain = load_dataset(data, 1337, 0.2)
    side = {s.path: "val" for s in plain.val} | {s.path: "train" for s in plain.train}
    split_before = [c for c, o in planted.items() if side[c] != side[o]]
    assert split_before, "no planted pair fell on both sides: the test would prove nothing"

    config = make_config(
        "quick",
        data_dir=str(data),
        out_dir=str(tmp_path / "art"),
        weights=str(shared_weights),
        models=("cnn3",),
        cnn_input_size=32,
        cnn_epochs=1,
        robustness_photos=0,
        dedupe_near=True,
    )
    stream = io.StringIO()
    run = train_study(config, log=Console(stream))
    after = run.split().set_index("path").split
    assert all(after[c] == after[o] for c, o in planted.items())
    moved = run.manifest["dataset"]["near_moved"]
    assert moved["count"] == len(split_before) == len(moved["photos"])
    assert "--dedupe-near" in run.manifest["dataset"]["split_rule"]
    assert f"{len(split_before):,} photo(s) moved" in stream.getvalue()
    assert config.fingerprint() != config.replace(dedupe_near=False).fingerprint()
    assert verify_run(run) == []
