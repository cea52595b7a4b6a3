"""The artifacts contract: where a run's files live and how to read them.

Both the pipeline (writer) and the dashboard (reader) import this module;
nothing else builds a path into a run.

    artifacts/
      latest -> runs/<run-id>          (only ever points at a complete run)
      runs/<run-id>/
        manifest.json                  run identity, config, dataset, weights, environment,
                                       models, and the sha256 + size of every file below
        split.csv                      path, label, split, content sha256 of every used photo
        thumbs/<id>.jpg                thumbnails of misclassified validation photos
        analysis.json                  intervals, McNemar, agreement, ROC/PR, calibration,
                                       efficiency (see pipeline/analysis.py)
        suspects.csv                   photos every model confidently puts in the same other class
        near_duplicates.json           near-duplicate photos by their pooled features: validation
                                       photos with a near-twin in training (leaks), groups within
                                       each side, every model's accuracy without the leaks
        photo_map.csv                  every photo's position on a 2-D map of its pooled features
        label_issues.csv / .json       likely label errors among every photo (confident learning
                                       on out-of-fold probabilities), and their summary
        robustness.json                accuracy under corruptions (pipeline/robustness.py)
        gradcam/<id>.npz               Grad-CAM maps of every model for a few photos
        tensorboard/<name>/            every epoch as TensorBoard events
        models/<name>/
          model.keras  history.csv  predictions.csv  confusion.json
          metrics.json  misclassified.csv
                                       (predictions.csv's columns: pipeline/store/predictions.py)
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipeline import faults

SCHEMA_VERSION = 2
# Runs written by older versions are still shown; they cannot be verified or resumed.
READABLE_SCHEMAS = (1, 2)
MANIFEST = "manifest.json"
SPLIT = "split.csv"
RUNS = "runs"
LATEST = "latest"
MODELS = "models"
THUMBS = "thumbs"
CACHE = "cache"
ANALYSIS = "analysis.json"
ROBUSTNESS = "robustness.json"
RESIZE_GAP = "resize_gap.json"
SUSPECTS = "suspects.csv"
NEAR_DUPLICATES = "near_duplicates.json"
LABEL_ISSUES = "label_issues.csv"
PHOTO_MAP = "photo_map.csv"
LABEL_ISSUES_SUMMARY = "label_issues.json"
GRADCAM = "gradcam"
TENSORBOARD = "tensorboard"

MODEL_FILE = "model.keras"
HISTORY = "history.csv"
PREDICTIONS = "predictions.csv"
CONFUSION = "confusion.json"
METRICS = "metrics.json"
MISCLASSIFIED = "misclassified.csv"
MODEL_FILES = (MODEL_FILE, HISTORY, PREDICTIONS, CONFUSION, METRICS, MISCLASSIFIED)

HISTORY_COLUMNS = [
    "epoch",
    "phase",
    "loss",
    "accuracy",
    "val_loss",
    "val_accuracy",
    "learning_rate",
    "seconds",
]
SPLIT_COLUMNS = ["path", "label", "split", "sha256"]
MISCLASSIFIED_COLUMNS = ["path", "label", "predicted", "p_dog", "confidence", "thumb"]


def misclassified_columns(class_names: list[str]) -> list[str]:
    """misclassified.csv's columns: two-class runs keep P(second class) as `p_dog`; the
    confidence is always the probability of the predicted class."""
    if len(class_names) == 2:
        return MISCLASSIFIED_COLUMNS
    return [c for c in MISCLASSIFIED_COLUMNS if c != "p_dog"]


def thumb_name(path: str) -> str:
    """File name of a photo's thumbnail under thumbs/: one per photo, shared by all models."""
    return hashlib.sha1(path.encode()).hexdigest()[:16] + ".jpg"


# --- writing -------------------------------------------------------------------


def write_json(path: Path, data) -> None:
    """Write JSON atomically: readers see the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=2, sort_keys=False, default=str)
            fh.write("\n")
        os.replace(tmp, path)
    finally:  # a full disk leaves no half-written file behind
        Path(tmp).unlink(missing_ok=True)


def write_csv(path: Path, frame: pd.DataFrame) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(fd)
    try:
        frame.to_csv(tmp, index=False)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def staging_dir(run_dir: Path, name: str) -> Path:
    """A fresh hidden folder, unique to this process, to build a model's files in."""
    parent = run_dir / MODELS
    parent.mkdir(parents=True, exist_ok=True)
    stage = parent / f".{name}.staging-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    stage.mkdir()
    return stage


def checkpoint_dir(run_dir: Path, name: str) -> Path:
    """Where a model's last finished epoch is kept until the model is published."""
    return run_dir / MODELS / f".{name}.checkpoint"


def remove_stale_staging(run_dir: Path) -> int:
    """Delete staging folders left by killed writers (call only while holding the lock)."""
    parent = run_dir / MODELS
    stale = [p for p in parent.glob(".*.staging-*")] if parent.is_dir() else []
    stale += [p for p in parent.glob(".*.old")] if parent.is_dir() else []
    for folder in stale:
        shutil.rmtree(folder, ignore_errors=True)
    return len(stale)


def publish_dir(stage: Path, final: Path) -> None:
    """Move a finished staging folder into place in one rename."""
    if final.exists():
        old = final.with_name(f".{final.name}.old")
        if old.exists():
            shutil.rmtree(old)
        os.replace(final, old)
        os.replace(stage, final)
        shutil.rmtree(old)
    else:
        os.replace(stage, final)


def point_latest(artifacts_dir: Path, run_dir: Path) -> None:
    """Atomically point `artifacts/latest` at a complete run."""
    link = artifacts_dir / LATEST
    tmp = artifacts_dir / f".{LATEST}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp"
    os.symlink(Path(RUNS) / run_dir.name, tmp)
    faults.point("latest")
    os.replace(tmp, link)


# --- reading -------------------------------------------------------------------


class ArtifactError(Exception):
    """A run folder is missing or malformed; the message says what."""


@dataclass
class Run:
    path: Path
    manifest: dict

    @property
    def run_id(self) -> str:
        return self.manifest["run_id"]

    @property
    def complete(self) -> bool:
        return self.manifest.get("status") == "complete"

    @property
    def class_names(self) -> list[str]:
        return self.manifest["dataset"]["class_names"]

    def model_records(self) -> list[dict]:
        return list(self.manifest.get("models", []))

    def model_names(self) -> list[str]:
        return [m["name"] for m in self.model_records()]

    def model_record(self, name: str) -> dict:
        for record in self.model_records():
            if record["name"] == name:
                return record
        raise ArtifactError(f"run {self.run_id} has no model {name!r}")

    def model_dir(self, name: str) -> Path:
        return self.path / MODELS / name

    def model_path(self, name: str) -> Path:
        return self.path / self.model_record(name)["file"]

    def missing_files(self, name: str) -> list[str]:
        folder = self.model_dir(name)
        return [f for f in MODEL_FILES if not (folder / f).is_file()]

    def _file(self, name: str, filename: str) -> Path:
        path = self.model_dir(name) / filename
        if not path.is_file():
            raise ArtifactError(f"{name}: {filename} is missing from {self.model_dir(name)}")
        return path

    def history(self, name: str) -> pd.DataFrame:
        return pd.read_csv(self._file(name, HISTORY))

    def predictions(self, name: str) -> pd.DataFrame:
        return pd.read_csv(self._file(name, PREDICTIONS))

    def misclassified(self, name: str) -> pd.DataFrame:
        return pd.read_csv(self._file(name, MISCLASSIFIED))

    def confusion(self, name: str) -> dict:
        return json.loads(self._file(name, CONFUSION).read_text())

    def metrics(self, name: str) -> dict:
        return json.loads(self._file(name, METRICS).read_text())

    def split(self) -> pd.DataFrame:
        return pd.read_csv(self.path / SPLIT)

    def epochs_so_far(self, name: str) -> pd.DataFrame:
        """History of a model still in training: the epochs it has finished so far."""
        from pipeline.store.checkpoint import rows_so_far  # imports Keras: only when asked

        rows = rows_so_far(checkpoint_dir(self.path, name))
        return pd.DataFrame(rows, columns=HISTORY_COLUMNS)

    def thumb_path(self, thumb: str) -> Path:
        return self.path / THUMBS / thumb

    def analysis(self) -> dict | None:
        """The run's analysis.json, or None for a run analysed before it existed."""
        path = self.path / ANALYSIS
        return json.loads(path.read_text()) if path.is_file() else None

    def robustness(self) -> dict | None:
        """The run's robustness.json (accuracy under corruptions), or None before it exists."""
        path = self.path / ROBUSTNESS
        return json.loads(path.read_text()) if path.is_file() else None

    def resize_gap(self) -> dict | None:
        """The run's resize_gap.json (every validation photo, both resize methods), if made."""
        path = self.path / RESIZE_GAP
        return json.loads(path.read_text()) if path.is_file() else None

    def near_duplicates(self) -> dict | None:
        """The run's near_duplicates.json, or None (no MobileNetV2 features, or an older run)."""
        path = self.path / NEAR_DUPLICATES
        return json.loads(path.read_text()) if path.is_file() else None

    def label_issues(self) -> pd.DataFrame | None:
        """Likely label errors among every photo (label_issues.csv), if the run has them."""
        path = self.path / LABEL_ISSUES
        return pd.read_csv(path) if path.is_file() else None

    def suspects(self) -> pd.DataFrame | None:
        path = self.path / SUSPECTS
        return pd.read_csv(path) if path.is_file() else None

    def gradcam_of(self, path: str) -> Path | None:
        """Stored Grad-CAM maps of a validation photo, if the analysis made them."""
        file = self.path / GRADCAM / (Path(thumb_name(path)).stem + ".npz")
        return file if file.is_file() else None

    def thumb_of(self, path: str) -> Path | None:
        """The thumbnail of a validation photo, if one was written (misclassified ones are)."""
        thumb = self.path / THUMBS / thumb_name(path)
        return thumb if thumb.is_file() else None


def read_run(run_dir: Path) -> Run:
    manifest_path = Path(run_dir) / MANIFEST
    if not manifest_path.is_file():
        raise ArtifactError(f"{run_dir} has no {MANIFEST}")
    try:
        manifest = json.loads(manifest_path.read_text())
    except ValueError as err:
        raise ArtifactError(f"{manifest_path} is not valid JSON ({err})") from None
    if manifest.get("schema_version") not in READABLE_SCHEMAS:
        raise ArtifactError(
            f"{manifest_path} has schema version {manifest.get('schema_version')}, "
            f"this code reads version {SCHEMA_VERSION}"
        )
    return Run(Path(run_dir), manifest)


def list_runs(artifacts_dir: Path) -> list[Run]:
    """Every readable run, newest first."""
    runs_dir = Path(artifacts_dir) / RUNS
    if not runs_dir.is_dir():
        return []
    runs = []
    for child in runs_dir.iterdir():
        if child.is_dir() and (child / MANIFEST).is_file():
            try:
                runs.append(read_run(child))
            except ArtifactError:
                continue
    return sorted(runs, key=lambda r: (r.manifest.get("created", ""), r.path.name), reverse=True)


def latest_run(artifacts_dir: Path) -> Run | None:
    """The run `latest` points at, or None if there is none yet."""
    link = Path(artifacts_dir) / LATEST
    if not link.exists():
        return None
    return read_run(link.resolve())
