"""Finding runs: by reference, for resuming, and naming new ones uniquely."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from pipeline.config import RunConfig
from pipeline.data.fingerprint import photo_changes, why_not_resumed
from pipeline.errors import PipelineError
from pipeline.store import artifacts
from pipeline.store.lock import holder


def new_run_dir(out_dir: Path, config: RunConfig, identity_key: str) -> Path:
    """A new run folder; ids stay unique when two runs start in the same second."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = f"{stamp}-{config.profile}-{identity_key[:8]}"
    runs = out_dir / artifacts.RUNS
    runs.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, 1000):
        run_dir = runs / (base if attempt == 1 else f"{base}-{attempt}")
        try:
            run_dir.mkdir()  # atomic: exactly one caller creates a given name
            return run_dir
        except FileExistsError:
            continue
    raise PipelineError(f"could not find a free run id under {runs}")


def _same_identity(run: artifacts.Run, identity: dict) -> bool:
    return (run.manifest.get("identity") or {}).get("key") == identity["key"]


def find_resumable(
    out_dir: Path, config: RunConfig, identity: dict, split: pd.DataFrame
) -> tuple[artifacts.Run | None, str | None]:
    """(run to continue, None) or (None, one line saying why the last unfinished one is not).

    Only a run whose whole identity matches is continued: the same settings, the
    same photos with the same content, the same weights and preprocessing code.
    A run that completed but whose publish as `latest` was cut short counts as
    one to continue (there is nothing left to train in it).
    """
    runs = artifacts.list_runs(out_dir)
    latest = artifacts.latest_run(out_dir)
    for run in runs:
        if not _same_identity(run, identity):
            continue
        if not run.complete:
            return run, None
        if latest is None or run.manifest.get("completed", "") > latest.manifest.get(
            "completed", ""
        ):
            return run, None
        break
    same_config = [
        r
        for r in runs
        if not r.complete and r.manifest.get("config_fingerprint") == config.fingerprint()
    ]
    if not same_config:
        return None, None
    old = same_config[0]
    old_identity = old.manifest.get("identity")
    if old_identity is None:
        return None, f"run {old.run_id} was not resumed: it was made by an older version"
    try:
        changes = photo_changes(old.split(), split)
    except (OSError, KeyError, ValueError):
        changes = None
    return None, f"run {old.run_id} was not resumed: " + why_not_resumed(
        old_identity, identity, changes
    )


def resolve_run(out_dir: Path, ref: str) -> artifacts.Run:
    """A run named by path, by id under `out_dir/runs`, or 'latest'."""
    if ref == "latest":
        try:
            run = artifacts.latest_run(out_dir)
        except artifacts.ArtifactError as err:
            raise PipelineError(str(err)) from None
        if run is None:
            raise PipelineError(
                f"{out_dir} has no complete run yet; run `python -m pipeline train`"
            )
        return run
    for path in (Path(ref), out_dir / artifacts.RUNS / ref):
        if (path / artifacts.MANIFEST).is_file():
            try:
                return artifacts.read_run(path)
            except artifacts.ArtifactError as err:
                raise PipelineError(str(err)) from None
    raise PipelineError(f"no run found at {ref} (looked in {out_dir / artifacts.RUNS})")


def training_now(run: artifacts.Run) -> dict | None:
    """{"model", "epochs_done", "since"} while a live `train` is working on `run`, else None."""

    info = holder(run.path.parent.parent)
    if run.complete or not info or info.get("run") != run.run_id:
        return None
    pending = [m for m in run.manifest.get("planned_models", []) if m not in run.model_names()]
    model = pending[0] if pending else None
    done = len(run.epochs_so_far(model)) if model else 0
    return {"model": model, "epochs_done": done, "since": info.get("started")}
