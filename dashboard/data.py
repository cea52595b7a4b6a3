"""Cached loaders: everything goes through `pipeline.store.artifacts`; nothing builds a path."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import explain, live
from dashboard.settings import artifacts_dir, inference, label
from pipeline.data.images import load_rgb
from pipeline.evaluation import compare
from pipeline.evaluation.analysis import ANALYSIS_VERSION
from pipeline.evaluation.robustness import model_input
from pipeline.modeling import saved_models
from pipeline.modeling.forward import Forward, engine_for
from pipeline.modeling.predict import Scorer
from pipeline.store import artifacts
from pipeline.store.runs import training_now
from pipeline.workflows.repeats import compare_groups, group_of, list_groups, wrong_table
from pipeline.workflows.sweep import list_sweeps
from pipeline.workflows.verify import verify_run

RUN_KEY = "run_path"
OPEN_RUN_KEY = "open_run"  # set by a page to switch the run picker on the next run


@st.cache_data(ttl=5, show_spinner=False)
def run_paths(folder: str) -> list[tuple[str, str]]:
    """(path, label) of every run, newest first; runs in training or stopped say so."""

    def suffix(run: artifacts.Run) -> str:
        if run.complete:
            return ""
        return "  (training)" if training_now(run) else "  (incomplete)"

    return [(str(r.path), r.run_id + suffix(r)) for r in artifacts.list_runs(Path(folder))]


def latest_path(folder: str) -> str | None:
    """The run `artifacts/latest` points at (the default choice), if any."""
    try:
        run = artifacts.latest_run(Path(folder))
    except artifacts.ArtifactError:
        return None
    return str(run.path) if run else None


@st.cache_data(show_spinner=False)
def load_run(path: str, mtime: float) -> artifacts.Run:
    """The run at `path`; `mtime` of its manifest keys the cache so updates show."""
    return artifacts.read_run(Path(path))


def run_at(path: str) -> artifacts.Run:
    """The run at `path`, cached until its manifest is rewritten (OSError when it has none)."""
    return load_run(path, (Path(path) / artifacts.MANIFEST).stat().st_mtime)


def current_run() -> artifacts.Run | None:
    path = st.session_state.get(RUN_KEY)
    return run_at(path) if path else None


def training_status(run: artifacts.Run) -> dict | None:

    return training_now(run)


def require_run(allow_training: bool = False) -> artifacts.Run:
    """The selected run, or a friendly stop with the command that makes one.

    With `allow_training`, a run still training its first model is returned too.
    """
    run = current_run()
    if run is None:
        st.info(f"No training runs found in `{artifacts_dir()}` yet. Create one with:")
        st.code("make quick        # or: python -m pipeline train --profile quick", "bash")
        st.caption(
            "The full study is `make full`. Set PETCOMPARE_ARTIFACTS to read another folder."
        )
        st.stop()
    if not run.model_names() and not (allow_training and training_status(run)):
        st.warning(f"Run {run.run_id} has no finished model yet; it is still training or stopped.")
        st.stop()
    return run


def _mtime(path: str, name: str, filename: str) -> float:
    """Modification time of a model's file (0 when missing): keys the caches below, so
    `evaluate` or `analyze` on an open run shows up without a restart."""
    file = Path(path) / artifacts.MODELS / name / filename
    return file.stat().st_mtime if file.is_file() else 0.0


@st.cache_data(show_spinner=False, max_entries=64)
def _history(path: str, name: str, mtime: float) -> pd.DataFrame:
    return artifacts.read_run(Path(path)).history(name)


@st.cache_data(show_spinner=False, max_entries=64)
def _predictions(path: str, name: str, mtime: float) -> pd.DataFrame:
    return artifacts.read_run(Path(path)).predictions(name)


@st.cache_data(show_spinner=False, max_entries=64)
def _misclassified(path: str, name: str, mtime: float) -> pd.DataFrame:
    return artifacts.read_run(Path(path)).misclassified(name)


@st.cache_data(show_spinner=False, max_entries=64)
def _confusion(path: str, name: str, mtime: float) -> dict:
    return artifacts.read_run(Path(path)).confusion(name)


def history(path: str, name: str) -> pd.DataFrame:
    return _history(path, name, _mtime(path, name, artifacts.HISTORY))


def predictions(path: str, name: str) -> pd.DataFrame:
    return _predictions(path, name, _mtime(path, name, artifacts.PREDICTIONS))


def misclassified(path: str, name: str) -> pd.DataFrame:
    return _misclassified(path, name, _mtime(path, name, artifacts.MISCLASSIFIED))


def confusion(path: str, name: str) -> dict:
    return _confusion(path, name, _mtime(path, name, artifacts.CONFUSION))


def available(run: artifacts.Run, reader, names: list[str] | None = None) -> dict:
    """name -> reader(run path, name) for models whose file exists; warns about the rest."""
    result, missing = {}, []
    for name in run.model_names() if names is None else names:
        try:
            result[name] = reader(str(run.path), name)
        except (artifacts.ArtifactError, OSError, ValueError) as err:
            missing.append(f"{name}: {err}")
    for line in missing:
        st.warning(f"Missing from this run — {line}")
    return result


def loadable_models(run: artifacts.Run, warn: bool = True) -> tuple[str, ...]:
    """The run's models whose model.keras exists; says which ones lack it."""
    names, missing = [], []
    for name in run.model_names():
        (names if run.model_path(name).is_file() else missing).append(name)
    if warn and missing:
        st.warning(
            "No model file, so not answering here: "
            + ", ".join(f"{label(n)} ({run.model_path(n).relative_to(run.path)})" for n in missing)
        )
    return tuple(names)


# At most two runs' models in memory: opening run after run must not keep them all.
@st.cache_resource(show_spinner="Loading models…", max_entries=2)
def load_models(path: str, names: tuple[str, ...]) -> dict:
    """Each model loaded once per process and warmed up; shared, never mutated.

    Keras models are safe to call from several sessions' threads at once
    (tests/dashboard/test_live.py checks concurrent answers against serial ones).
    """

    run = artifacts.read_run(Path(path))
    loaded = {}
    for name in names:
        model = saved_models.load(run.model_path(name))
        size = tuple(model.input_shape[1:3])
        model.predict_on_batch(np.zeros((1, *size, 3), np.float32))
        loaded[name] = model
    return loaded


@st.cache_resource(show_spinner="Compiling models…", max_entries=2)
def load_forwards(path: str, names: tuple[str, ...], inference: str) -> dict[str, Forward]:
    """Each model's forward pass on the engine `inference` asks for
    (`pipeline.modeling.engine`), compiled once per process; safe to call from every
    session's thread."""
    engine = engine_for(inference, cache_dir=Path(path).parent.parent / artifacts.CACHE)
    models = load_models(path, names)
    return {name: Scorer(model, engine=engine).compiled() for name, model in models.items()}


@st.cache_data(show_spinner=False, max_entries=256)
def answer(path: str, names: tuple[str, ...], digest: str, _payload: bytes) -> live.Answer:
    """Every model's answer to one photo, computed once per run and photo content.

    Keyed by the content hash, not the bytes: a rerun, another session or the same
    photo under another name reuses it.
    """
    return live.answer(_payload, load_forwards(path, names, inference()))


@st.cache_data(show_spinner="Computing Grad-CAM…", max_entries=32)
def live_gradcam(path: str, names: tuple[str, ...], digest: str, _seen: dict) -> explain.Maps:
    """Grad-CAM maps of an answered photo, computed only when asked, once per content."""
    return explain.live(load_models(path, names), _seen)


@st.cache_data(show_spinner=False, max_entries=8)
def sample_photos(path: str, mtime: float) -> list[tuple[str, str]]:
    """(validation path, file) of a few photos to try; `mtime` of split.csv keys it."""
    return [(p, str(f)) for p, f in live.sample_photos(artifacts.read_run(Path(path)))]


@st.cache_data(show_spinner=False)
def analysis(path: str, mtime: float) -> dict | None:
    """The run's analysis.json (None before `python -m pipeline analyze` made one)."""
    return artifacts.read_run(Path(path)).analysis()


def analysis_if_any(run: artifacts.Run) -> dict | None:
    """The run's analysis.json when there is one, without stopping the page."""
    file = run.path / artifacts.ANALYSIS
    return analysis(str(run.path), file.stat().st_mtime) if file.is_file() else None


def require_analysis(run: artifacts.Run) -> dict:
    """The run's analysis, or a stop that says how to make it."""
    file = run.path / artifacts.ANALYSIS
    result = analysis(str(run.path), file.stat().st_mtime) if file.is_file() else None
    if result is None or result.get("version", 1) < ANALYSIS_VERSION:
        st.info(
            (
                "This run has no analysis yet."
                if result is None
                else "This run's analysis was made by an older version."
            )
            + " Make it (seconds, no retraining) with:"
        )
        st.code(f"python -m pipeline analyze {run.path}", "bash")
        st.stop()
    if result["models"] != run.model_names():
        st.warning(
            "This analysis was made for "
            + ", ".join(result["models"])
            + f"; the run now has {', '.join(run.model_names())}. Refresh it with "
            f"`python -m pipeline analyze {run.path}`."
        )
    return result


@st.cache_data(show_spinner=False, max_entries=16)
def _run_json(path: str, filename: str, mtime: float) -> dict:
    return json.loads((Path(path) / filename).read_text())


def _stored_json(run: artifacts.Run, filename: str) -> dict | None:
    """A JSON file of the run, cached until it is rewritten (`mtime`); None before it exists."""
    file = run.path / filename
    return _run_json(str(run.path), filename, file.stat().st_mtime) if file.is_file() else None


def robustness(run: artifacts.Run) -> dict | None:
    """The run's robustness.json (accuracy under corruptions), or None before it exists."""
    return _stored_json(run, artifacts.ROBUSTNESS)


@st.cache_data(show_spinner=False, max_entries=16)
def _run_csv(path: str, filename: str, mtime: float) -> pd.DataFrame:
    return pd.read_csv(Path(path) / filename)


def _stored_csv(run: artifacts.Run, filename: str) -> pd.DataFrame | None:
    """A CSV file of the run, cached until it is rewritten (`mtime`); None before it exists."""
    file = run.path / filename
    return _run_csv(str(run.path), filename, file.stat().st_mtime) if file.is_file() else None


def photo_map(run: artifacts.Run) -> pd.DataFrame | None:
    """The run's map of every photo (photo_map.csv: path, split, label, x, y), if made."""
    return _stored_csv(run, artifacts.PHOTO_MAP)


def label_issues_summary(run: artifacts.Run) -> dict | None:
    """The run's label_issues.json, or None (no pooled features, or an older run)."""
    return _stored_json(run, artifacts.LABEL_ISSUES_SUMMARY)


def label_issues(run: artifacts.Run) -> pd.DataFrame | None:
    """The run's likely label errors among every photo (label_issues.csv), if it has them."""
    return _stored_csv(run, artifacts.LABEL_ISSUES)


def near_duplicates(run: artifacts.Run) -> dict | None:
    """The run's near_duplicates.json, or None (no pooled features, or an older run)."""
    return _stored_json(run, artifacts.NEAR_DUPLICATES)


def resize_gap(run: artifacts.Run) -> dict | None:
    """The run's resize_gap.json (every validation photo), or None before it exists."""
    return _stored_json(run, artifacts.RESIZE_GAP)


@st.cache_data(show_spinner=False, max_entries=16)
def _seen_under(
    path: str, model: str, corruption: str, photos: tuple[str, ...], mtime: float
) -> list[tuple[str, np.ndarray]]:
    run = artifacts.read_run(Path(path))
    result = run.robustness()
    root = Path(run.manifest["dataset"]["root"])
    size = tuple(run.model_record(model)["input_size"])
    seen = []
    for photo in photos:
        if (root / photo).is_file():
            image = load_rgb(root / photo).image
            seed = result["photos"].index(photo)  # as the analysis seeded it
            seen.append((photo, model_input(image, corruption, 1, input_size=size, seed=seed)))
    return seen


def seen_under_corruption(
    run: artifacts.Run, model: str, corruption: str, photos: list[str]
) -> list[tuple[str, np.ndarray]]:
    """(photo, pixels) of those of the robustness subset's `photos` still in the data folder,
    as `model` saw them under `corruption`'s mildest level."""
    mtime = (run.path / artifacts.ROBUSTNESS).stat().st_mtime
    return _seen_under(str(run.path), model, corruption, photos=tuple(photos), mtime=mtime)


@st.cache_data(show_spinner=False)
def verification(path: str, mtime: float) -> list[str]:
    """What `python -m pipeline verify` finds wrong with a run (models not loaded here).

    `mtime` of the manifest keys the cache, so a refreshed run is checked again.
    """

    return verify_run(artifacts.read_run(Path(path)), load_models=False)


def problems(run: artifacts.Run) -> list[str]:
    """`verification` of the run as its manifest now stands."""
    return verification(str(run.path), (run.path / artifacts.MANIFEST).stat().st_mtime)


@st.cache_data(show_spinner=False, max_entries=16)
def _suspects(path: str, mtime: float) -> pd.DataFrame | None:
    return artifacts.read_run(Path(path)).suspects()


def suspects(path: str) -> pd.DataFrame | None:
    file = Path(path) / artifacts.SUSPECTS
    return _suspects(path, file.stat().st_mtime if file.is_file() else 0.0)


def _stamp(path: str) -> tuple[float, ...]:
    """Modification times of what a comparison reads of a run: manifest, split, predictions."""
    run = run_at(path)
    files = [run.path / artifacts.MANIFEST, run.path / artifacts.SPLIT]
    stamps = [f.stat().st_mtime if f.is_file() else 0.0 for f in files]
    return (*stamps, *(_mtime(path, n, artifacts.PREDICTIONS) for n in run.model_names()))


@st.cache_data(show_spinner="Comparing the runs…", max_entries=16)
def _comparison(path_a: str, path_b: str, stamps: tuple) -> dict:

    return compare.compare_runs(run_at(path_a), run_at(path_b))


def comparison(path_a: str, path_b: str) -> dict:
    """`pipeline.evaluation.compare.compare_runs` of two runs, until one of them changes."""
    return _comparison(path_a, path_b, _stamp(path_a) + _stamp(path_b))


@st.cache_data(show_spinner=False, max_entries=64)
def _fixed_and_broken(path_a: str, path_b: str, name: str, stamps: tuple) -> pd.DataFrame:

    return compare.fixed_and_broken(run_at(path_a), run_at(path_b), name)


def fixed_and_broken(path_a: str, path_b: str, name: str) -> pd.DataFrame:
    """The shared photos run B fixed or broke for model `name`, until a prediction changes."""
    stamps = (
        _mtime(path_a, name, artifacts.PREDICTIONS),
        _mtime(path_b, name, artifacts.PREDICTIONS),
    )
    return _fixed_and_broken(path_a, path_b, name, stamps=stamps)


@st.cache_data(ttl=5, show_spinner=False)
def sweeps(folder: str) -> list[dict]:
    """Every sweep record under the artifacts folder, newest first (re-read every 5 s)."""

    return list_sweeps(Path(folder))


@st.cache_data(ttl=5, show_spinner=False)
def repeat_group(folder: str, run_id: str) -> dict | None:
    """The repeat group the run is part of, if any (re-read every 5 s)."""
    return group_of(Path(folder), run_id)


@st.cache_data(ttl=5, show_spinner=False)
def repeat_wrong_counts(folder: str, group: str) -> pd.DataFrame | None:
    """Per photo, how many of the group's repeats each model got wrong."""
    return wrong_table(Path(folder), group)


@st.cache_data(ttl=5, show_spinner=False)
def repeat_groups(folder: str) -> list[dict]:
    """Every repeat group with its statistics, newest first (re-read every 5 s)."""
    return [g for g in list_groups(Path(folder)) if g.get("summary")]


@st.cache_data(show_spinner=False, max_entries=16)
def group_change(folder: str, a: dict, b: dict) -> dict:
    """Group B against group A, model by model (`pipeline.workflows.repeats`)."""
    return compare_groups(Path(folder), a, b)


def group_histories(folder: str, run_ids: list[str], names: list[str]) -> dict:
    """model -> its history in each of the runs still there that hold it (a repeat group)."""
    found: dict[str, list[pd.DataFrame]] = {name: [] for name in names}
    for run_id in run_ids:
        path = str(Path(folder) / artifacts.RUNS / run_id)
        for name in names:
            try:
                frame = history(path, name)
            except (artifacts.ArtifactError, OSError, ValueError):
                continue
            if not frame.empty:
                found[name].append(frame)
    return {name: frames for name, frames in found.items() if frames}


def sweep_runs(folder: str, sweep: dict) -> dict[str, artifacts.Run]:
    """run id -> run of the sweep's runs still in the folder."""
    found = {}
    for entry in sweep["runs"]:
        try:
            found[entry["run_id"]] = run_at(str(Path(folder) / artifacts.RUNS / entry["run_id"]))
        except (artifacts.ArtifactError, OSError):
            continue
    return found
