"""What a run was trained on, as one hash, and what changed between two such records.

A run's identity is its config, its data (every used photo's path, label and
content hash, the exclusions, the label map), the backbone weights' sha256 and
the preprocessing code (loader version, Pillow, TensorFlow). A run is resumed
only when all of it matches.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from pipeline.data.dataset import Dataset
from pipeline.data.images import loader_identity
from pipeline.hashing import json_sha256


def _digest(data) -> str:
    return json_sha256(data)


def data_fingerprint(dataset: Dataset) -> str:
    """sha256 over the used photos (path, label, content), exclusions and label map."""
    photos = [(s.path, s.label, s.sha256) for s in dataset.samples]
    validation = [s.path for s in dataset.val]
    return fingerprint_of(dataset.class_names, photos, validation, excluded=dataset.excluded)


def fingerprint_of(
    class_names: list[str],
    photos: list[tuple[str, int, str]],
    validation: list[str],
    excluded: list[str],
) -> str:
    """The data fingerprint from its parts (also recomputed by `verify` from split.csv)."""
    return _digest(
        {
            "class_names": list(class_names),
            "photos": [[p, int(y), h] for p, y, h in sorted(photos)],
            "validation": sorted(validation),
            "excluded": sorted(excluded),
        }
    )


def preprocessing_identity() -> dict:
    """The code and libraries that turn a file into the pixels and features a model sees."""
    import keras
    import tensorflow as tf

    return loader_identity() | {"tensorflow": tf.__version__, "keras": keras.__version__}


def run_identity(
    config_fingerprint: str,
    data: str,
    weights_sha256: str | None,
    preprocessing: dict,
    external: dict[str, str] | None = None,
) -> dict:
    parts = {
        "config": config_fingerprint,
        "data": data,
        "weights": weights_sha256,
        "preprocessing": preprocessing,
    }
    if external:  # name -> sha256 of each user model scored in the run
        parts["external"] = external
    return parts | {"key": _digest(parts)[:16]}


@dataclass(frozen=True)
class PhotoChanges:
    added: list[str]
    removed: list[str]
    changed: list[str]  # same path, other content
    relabelled: list[str]

    @property
    def any(self) -> bool:
        return bool(self.added or self.removed or self.changed or self.relabelled)

    def summary(self) -> str:
        parts = [
            f"{len(items)} photo(s) {what}"
            for what, items in (
                ("removed", self.removed),
                ("added", self.added),
                ("edited", self.changed),
                ("relabelled", self.relabelled),
            )
            if items
        ]
        return ", ".join(parts) or "no photo changed"


def photo_changes(before: pd.DataFrame, after: pd.DataFrame) -> PhotoChanges:
    """Differences between two split tables (columns path, label, sha256)."""
    old = before.set_index("path")
    new = after.set_index("path")
    both = old.index.intersection(new.index)
    has_hash = "sha256" in old.columns and "sha256" in new.columns
    changed = [p for p in both if has_hash and old.at[p, "sha256"] != new.at[p, "sha256"]]
    relabelled = [p for p in both if int(old.at[p, "label"]) != int(new.at[p, "label"])]
    return PhotoChanges(
        added=sorted(new.index.difference(old.index)),
        removed=sorted(old.index.difference(new.index)),
        changed=sorted(changed),
        relabelled=sorted(relabelled),
    )


def why_not_resumed(old: dict, new: dict, changes: PhotoChanges | None) -> str:
    """One line saying which part of the identity differs."""
    reasons = []
    if old.get("config") != new["config"]:
        reasons.append("settings changed")
    if old.get("data") != new["data"]:
        detail = changes.summary() if changes is not None and changes.any else "split changed"
        reasons.append(f"data changed: {detail}")
    if old.get("weights") != new["weights"]:
        reasons.append("backbone weights changed")
    if old.get("external") != new.get("external"):
        reasons.append("external model files changed")
    if old.get("preprocessing") != new["preprocessing"]:
        before, after = old.get("preprocessing") or {}, new["preprocessing"]
        moved = [f"{k} {before.get(k)} -> {v}" for k, v in after.items() if before.get(k) != v]
        reasons.append("preprocessing changed: " + ", ".join(moved))
    return "; ".join(reasons) or "its identity differs"
