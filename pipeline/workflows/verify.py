"""`python -m pipeline verify RUN`: is a run exactly what its manifest says it is?

Checks every file against the sha256 and size the manifest recorded, that the
split still matches the run's data fingerprint, that every model's predictions
cover exactly the validation photos, and (optionally) that every model loads
in Keras' safe mode. Returns the list of what is wrong; empty means verified.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.data.fingerprint import fingerprint_of
from pipeline.store import artifacts, predictions
from pipeline.store.manifest import inventory


def check_files(run: artifacts.Run) -> list[str]:
    recorded = run.manifest.get("files")
    if recorded is None:
        return ["the manifest has no file inventory"]
    actual = inventory(run.path)
    problems = [f"missing: {rel}" for rel in sorted(set(recorded) - set(actual))]
    problems += [f"not in the manifest: {rel}" for rel in sorted(set(actual) - set(recorded))]
    for rel in sorted(set(recorded) & set(actual)):
        if actual[rel]["size"] != recorded[rel]["size"]:
            problems.append(
                f"changed: {rel} ({actual[rel]['size']:,} bytes, recorded "
                f"{recorded[rel]['size']:,})"
            )
        elif actual[rel]["sha256"] != recorded[rel]["sha256"]:
            problems.append(f"changed: {rel} (sha256 differs from the recorded one)")
    return problems


def check_split(run: artifacts.Run, split: pd.DataFrame) -> list[str]:
    missing = [c for c in artifacts.SPLIT_COLUMNS if c not in split.columns]
    if missing:
        return [f"split.csv lacks column(s) {', '.join(missing)}"]
    dataset = run.manifest["dataset"]
    photos = list(split[["path", "label", "sha256"]].itertuples(index=False, name=None))
    validation = split.loc[split.split == "val", "path"].tolist()
    found = fingerprint_of(
        dataset["class_names"], photos, validation, excluded=dataset.get("excluded", [])
    )
    expected = (run.manifest.get("identity") or {}).get("data")
    if found != expected:
        return ["split.csv does not match the run's data fingerprint"]
    return []


def check_predictions(run: artifacts.Run, split: pd.DataFrame) -> list[str]:
    val = split[split.split == "val"].set_index("path")["label"]
    problems = []
    for name in run.model_names():
        try:
            frame = run.predictions(name)
        except (artifacts.ArtifactError, OSError, ValueError) as err:
            problems.append(f"{name}: predictions unreadable ({err})")
            continue
        paths = frame["path"]
        if paths.duplicated().any():
            problems.append(
                f"{name}: predictions list {int(paths.duplicated().sum())} photo(s) twice"
            )
        extra, absent = set(paths) - set(val.index), set(val.index) - set(paths)
        if extra or absent:
            problems.append(
                f"{name}: predictions cover {len(extra)} photo(s) outside the validation split "
                f"and miss {len(absent)} of its {len(val)} photo(s)"
            )
            continue
        if not np.array_equal(frame["label"].to_numpy(), val.loc[paths].to_numpy()):
            problems.append(f"{name}: predictions carry labels that differ from split.csv")
        problems += _probability_problems(name, frame, run.class_names)
    return problems


def _probability_problems(name: str, frame, class_names: list[str]) -> list[str]:
    if not predictions.readable(frame, class_names):
        return [f"{name}: predictions lack a probability column for each of the run's classes"]
    p = predictions.probabilities_of(frame, class_names)
    problems = []
    if not np.all((p >= 0) & (p <= 1)):
        problems.append(f"{name}: probabilities outside [0, 1]")
    if len(class_names) > 2 and not np.allclose(p.sum(axis=1), 1.0, atol=1e-3):
        problems.append(f"{name}: class probabilities that do not sum to 1")
    scores = p[:, 1] if len(class_names) == 2 else p  # two classes: P(second) >= 0.5
    if not np.array_equal(predictions.predicted_classes(scores), frame["predicted"].to_numpy()):
        problems.append(f"{name}: predicted classes that are not the most probable class")
    return problems


def check_models_load(run: artifacts.Run) -> list[str]:
    from pipeline.modeling import saved_models  # TensorFlow only when the models are loaded

    problems = []
    for name in run.model_names():
        try:
            saved_models.load(run.model_path(name))
        except Exception as err:  # any failure to load is what this check reports
            problems.append(
                f"{name}: model does not load in safe mode ({type(err).__name__}: {err})"
            )
    return problems


def verify_run(run: artifacts.Run, load_models: bool = True) -> list[str]:
    """Everything wrong with a run, in plain words; an empty list means verified."""
    if run.manifest.get("schema_version", 1) < 2:
        return ["made by an older version (no file inventory or data fingerprint to check)"]
    problems = [] if run.complete else [f"not complete (status {run.manifest.get('status')!r})"]
    missing_models = [
        m for m in run.manifest.get("planned_models", []) if m not in run.model_names()
    ]
    if run.complete and missing_models:
        problems.append(f"planned but not in the run: {', '.join(missing_models)}")
    problems += check_files(run)
    try:
        split = run.split()
    except (OSError, ValueError) as err:
        return problems + [f"split.csv unreadable ({err})"]
    problems += check_split(run, split)
    problems += check_predictions(run, split)
    if load_models:
        problems += check_models_load(run)
    return problems
