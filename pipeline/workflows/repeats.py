"""`python -m pipeline train --repeats K`: the study K times, to tell a real gain from seed noise.

Repeat k is an ordinary run with `repeat=k`: the same split, a training seed derived from
--seed and k (repeat 0 is the plain run), and the same caches as every other repeat. The
group's record, `artifacts/repeats/<id>.json`, lists the runs as they finish (so the same
command resumes the group, and a larger K adds repeats), then the statistics over them
(`pipeline.evaluation.repeats`); `<id>.wrong.csv` holds how many repeats got each
validation photo wrong, per model.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.config import RunConfig
from pipeline.console import Console
from pipeline.distributed.cluster import Cluster
from pipeline.errors import PipelineError
from pipeline.evaluation import repeats
from pipeline.hashing import json_sha256
from pipeline.registry import spec
from pipeline.store import artifacts
from pipeline.workflows.sweep import read_records, run_grid

REPEATS = "repeats"


def group_id(base: RunConfig) -> str:
    """The same settings on the same data folder are the same group, whatever K."""
    settings = base.replace(repeat=0).fingerprint()
    return "r" + json_sha256([settings, os.path.abspath(base.data_dir)])[:9]


def group_file(out_dir: Path, group: str) -> Path:
    return Path(out_dir) / REPEATS / f"{group}.json"


def run_repeats(
    base: RunConfig,
    k: int,
    log: Console | None = None,
    cluster: Cluster | None = None,
    wait: bool = True,
) -> dict:
    """Train repeats 0 to k-1 of `base` not yet done; returns the group's record."""
    log = log or Console()
    if k < 2:
        raise PipelineError(f"--repeats needs 2 or more (got {k}); leave it out for one run")
    base = base.replace(repeat=0)
    group = group_id(base)
    record_file = group_file(Path(base.out_dir), group)
    log(
        f"Repeat group {group}: {k} repeats, training seeds derived from --seed {base.seed}; "
        "the split is the same in each"
    )
    record = {"group_id": group, "repeats": k}
    grid = {"repeat": list(range(k))}
    record = run_grid(
        base, grid, record_file=record_file, record=record, log=log, cluster=cluster, wait=wait
    )
    runs = [_run_of(base, entry) for entry in record["runs"] if entry["values"]["repeat"] < k]
    record["summary"], wrong = summarize(runs)
    artifacts.write_csv(record_file.with_suffix(".wrong.csv"), wrong)
    artifacts.write_json(record_file, record)
    for line in describe(record["summary"]):
        log(line)
    log(f"Repeat group complete: {record_file}")
    return record


def _run_of(base: RunConfig, entry: dict) -> artifacts.Run:
    return artifacts.read_run(Path(base.out_dir) / artifacts.RUNS / entry["run_id"])


def label(name: str) -> str:
    return spec(name).label


def correctness(runs: list[artifacts.Run]) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """(the validation photos every run scored, model -> (K, n) 0/1 correctness), for the
    models every run holds, the photos in path order."""
    models = [m for m in runs[0].model_names() if all(m in r.model_names() for r in runs)]
    frames = {m: [r.predictions(m).set_index("path").sort_index() for r in runs] for m in models}
    if not models:
        raise PipelineError("the repeats have no model in common")
    paths = sorted(set.intersection(*(set(f.index) for fs in frames.values() for f in fs)))
    photos = frames[models[0]][0].loc[paths, ["label"]].reset_index()
    correct = {
        m: np.stack([(f.loc[paths, "predicted"] == f.loc[paths, "label"]).to_numpy() for f in fs])
        for m, fs in frames.items()
    }
    return photos, correct


def summarize(runs: list[artifacts.Run]) -> tuple[dict, pd.DataFrame]:
    """The group's statistics, and per photo how many repeats each model got wrong."""
    photos, correct = correctness(runs)
    summary = {
        "runs": [r.run_id for r in runs],
        "training_seeds": [_training_seed(r) for r in runs],
        "photos": len(photos),
        "models": {m: repeats.as_dict(repeats.spread(c)) for m, c in correct.items()},
        "pairs": [
            repeats.as_dict(p) for p in repeats.pairs({label(m): c for m, c in correct.items()})
        ],
    }
    wrong = photos.assign(**{m: repeats.wrong_counts(c) for m, c in correct.items()})
    return summary, wrong


def _training_seed(run: artifacts.Run) -> int:
    return RunConfig.from_dict(run.manifest["config"]).training_seed


def describe(summary: dict) -> list[str]:
    """The group in a few lines: each model's spread, then each pair's verdict."""
    k = len(summary["runs"])
    lines = [f"{k} repeats on {summary['photos']:,} validation photos:"]
    for name, s in summary["models"].items():
        interval = (
            f" [{100 * s['low']:.2f}%, {100 * s['high']:.2f}%]" if s["low"] is not None else ""
        )
        lines.append(
            f"  {label(name)}: mean {100 * s['mean']:.2f}%{interval}, "
            f"seed std {100 * s['seed_std']:.2f} points"
        )
    lines += [f"  {p['verdict']}" for p in summary["pairs"]]
    return lines


def list_groups(out_dir: Path) -> list[dict]:
    """Every repeat group's record under `out_dir`, newest first."""
    return read_records(Path(out_dir) / REPEATS)


def group_of(out_dir: Path, run_id: str) -> dict | None:
    """The newest repeat group whose statistics include `run_id` (None: the run is alone)."""
    for record in list_groups(out_dir):
        if run_id in (record.get("summary") or {}).get("runs", []):
            return record
    return None


def wrong_table(out_dir: Path, group: str) -> pd.DataFrame | None:
    """Per validation photo, how many repeats each model got wrong (None: not written)."""
    try:
        return pd.read_csv(group_file(out_dir, group).with_suffix(".wrong.csv"))
    except (OSError, ValueError):
        return None


def read_group(out_dir: Path, ref: str) -> dict | None:
    """The group record named by id (or by its file's path); None when `ref` names none."""
    for file in (Path(ref), group_file(out_dir, ref)):
        if file.suffix == ".json" and file.is_file():
            try:
                record = json.loads(file.read_text())
            except (OSError, ValueError):
                return None
            return record if "summary" in record else None
    return None


def group_runs(out_dir: Path, record: dict) -> list[artifacts.Run]:
    return [
        artifacts.read_run(Path(out_dir) / artifacts.RUNS / r) for r in record["summary"]["runs"]
    ]


def compare_groups(out_dir: Path, a: dict, b: dict) -> dict:
    """Each model of both repeat groups: does group B's setting beat group A's beyond seed
    and photo noise, on the validation photos both groups scored?"""
    photos_a, correct_a = correctness(group_runs(out_dir, a))
    photos_b, correct_b = correctness(group_runs(out_dir, b))
    shared = sorted(set(photos_a.path) & set(photos_b.path))
    if not shared:
        raise PipelineError("the two groups share no validation photo: nothing to pair")
    at_a = photos_a.reset_index().set_index("path").loc[shared, "index"].to_numpy()
    at_b = photos_b.reset_index().set_index("path").loc[shared, "index"].to_numpy()
    changes = [
        repeats.between_groups(label(m), correct_a[m][:, at_a], correct_b[m][:, at_b])
        for m in correct_a
        if m in correct_b
    ]
    base_a, base_b = a.get("base", {}), b.get("base", {})
    return {
        "a": a["group_id"],
        "b": b["group_id"],
        "photos": len(shared),
        "models": [repeats.as_dict(c) for c in changes],
        "config": {
            key: [base_a.get(key), base_b.get(key)]
            for key in sorted(set(base_a) | set(base_b))
            if base_a.get(key) != base_b.get(key) and key not in ("out_dir", "data_dir")
        },
    }


def describe_change(result: dict) -> str:
    lines = [f"A = repeat group {result['a']}", f"B = repeat group {result['b']}", ""]
    lines += [f"on the {result['photos']:,} validation photos both groups scored:"]
    lines += [f"  {m['verdict']}" for m in result["models"]]
    lines += ["", "settings that differ (A -> B):"]
    lines += [f"  {k}: {va!r} -> {vb!r}" for k, (va, vb) in result["config"].items()] or ["  none"]
    return "\n".join(lines)
