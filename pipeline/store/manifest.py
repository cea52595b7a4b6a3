"""What a run's manifest and split table record, and the inventory `verify` checks.

The manifest holds the run's identity (config, data fingerprint, weights,
preprocessing code), the dataset record, the environment, each model's
record, and the sha256 and size of every file in the run.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from pipeline.config import RunConfig
from pipeline.data.dataset import Dataset, class_imbalance, skipped_as_dicts
from pipeline.hashing import file_sha256
from pipeline.store import artifacts

GIVEN_RULE = "the folders' own split: train/ for training, the other side for validation"
SPLIT_RULE = "sha256('split:<seed>:<photo content sha256>') below val_fraction -> validation"
DEV_RULE = (
    "training photos with sha256('dev:<seed>:<photo content sha256>') below dev_fraction -> "
    "the run's validation side (a dev split); the validation photos are left out"
)
NEAR_RULE = (
    "each group of near-duplicate photos split across both sides moves to the side of its "
    "member with the smallest content sha256 (--dedupe-near)"
)
# Examples of duplicate groups kept in the manifest (the count is always complete).
DUPLICATE_EXAMPLES = 50


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


def new_manifest(run_dir: Path, config: RunConfig, identity: dict) -> dict:
    return {
        "schema_version": artifacts.SCHEMA_VERSION,
        "run_id": run_dir.name,
        "created": now(),
        "status": "running",
        "config": config.to_dict(),
        "config_fingerprint": config.fingerprint(),
        "identity": identity,
        "models": [],
        "caches": [],
    }


def split_description(dataset: Dataset) -> str:
    """How the photos were split, as the manifest and the overview say it."""
    if dataset.given_split:
        train, val = dataset.given_split
        return f"given ({train}/, {val}/)"
    return "content hash"


def dataset_record(dataset: Dataset, config: RunConfig) -> dict:
    groups = dataset.duplicates
    label_of = {s.path: s.label for s in dataset.samples}
    conflicting = [g for g in groups if len({label_of[p] for p in g}) > 1]
    return {
        "root": dataset.root,
        "class_names": dataset.class_names,
        "num_classes": len(dataset.class_names),
        # Two classes: the class whose probability the single sigmoid unit gives.
        "positive_class": dataset.class_names[1] if len(dataset.class_names) == 2 else None,
        "counts": dataset.counts(),
        "skipped": skipped_as_dicts(dataset),
        "converted": [{"path": p, "conversion": c} for p, c in sorted(dataset.converted.items())],
        "excluded": dataset.excluded,
        "exclude_file": config.exclude_file,
        "unmatched_exclusions": dataset.unmatched_exclusions,
        "duplicates": {
            "groups": len(groups),
            "photos": sum(len(g) for g in groups),
            "conflicting_labels": len(conflicting),
            "examples": groups[:DUPLICATE_EXAMPLES],
        },
        "seed": config.seed,
        "val_fraction": config.val_fraction,
        "dev_fraction": config.dev_fraction,
        "max_per_class": config.max_per_class,
        "split": split_description(dataset),
        "split_rule": (GIVEN_RULE if dataset.given_split else SPLIT_RULE)
        + ("; then " + DEV_RULE if config.dev_fraction else "")
        + ("; then " + NEAR_RULE if config.dedupe_near else ""),
        "typical_side": dataset.typical_side,
        "leaks": {"count": len(dataset.leaks), "examples": dataset.leaks[:DUPLICATE_EXAMPLES]},
        **(
            {"near_moved": {"count": len(dataset.near_moved), "photos": dataset.near_moved}}
            if config.dedupe_near
            else {}
        ),
        "warnings": [w for w in [class_imbalance(dataset.counts()["train"])] if w],
    }


def weights_record(weights, config: RunConfig) -> dict | None:
    if weights is None:
        return None
    return weights.to_dict() | {"input_size": [config.mobilenet_input_size] * 2}


def split_frame(dataset: Dataset) -> pd.DataFrame:
    rows = [(s.path, s.label, "train", s.sha256) for s in dataset.train]
    rows += [(s.path, s.label, "val", s.sha256) for s in dataset.val]
    frame = pd.DataFrame(rows, columns=artifacts.SPLIT_COLUMNS)
    return frame.sort_values("path").reset_index(drop=True)


def inventory(run_dir: Path) -> dict[str, dict]:
    """relative path -> {size, sha256} of every published file of a run (not the manifest,
    not hidden staging or checkpoint folders)."""
    files = {}
    for path in sorted(Path(run_dir).rglob("*")):
        rel = path.relative_to(run_dir)
        if not path.is_file() or rel.as_posix() == artifacts.MANIFEST:
            continue
        if any(part.startswith(".") for part in rel.parts):
            continue
        files[rel.as_posix()] = {"size": path.stat().st_size, "sha256": file_sha256(path)}
    return files


def record_files(run: artifacts.Run) -> None:
    """Refresh the manifest's file inventory after anything in the run was (re)written."""
    run.manifest["files"] = inventory(run.path)
    artifacts.write_json(run.path / artifacts.MANIFEST, run.manifest)
