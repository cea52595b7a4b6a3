"""`python -m pipeline sweep --set KEY=V1,V2 …`: a grid of settings, run as ordinary runs.

Each point of the grid is an ordinary run (resumable, sharing the caches), trained one
after another, or side by side as Ray tasks with `--ray`; the sweep record under
`artifacts/sweeps/<id>.json` lists the settings and, as they finish, the runs. The
same command again resumes an interrupted sweep: each of its runs resumes or is found
complete by its identity.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json
from pathlib import Path

from pipeline.config import RunConfig, validate
from pipeline.console import Console
from pipeline.devices import apply_thread_cap
from pipeline.distributed.cluster import TASK_RETRIES, Cluster, remote_args, unwrap
from pipeline.errors import PipelineError
from pipeline.hashing import json_sha256
from pipeline.store import artifacts
from pipeline.store.lock import WriterLock
from pipeline.workflows.study import train_study, train_study_unlocked

SWEEPS = "sweeps"
NOT_SWEPT = ("out_dir", "data_dir", "profile", "external", "models")


def _cast(key: str, text: str, default):
    if isinstance(default, bool):
        return text.lower() in ("1", "true", "yes")
    for kind in (type(default),) if default is not None else (int, float, str):
        try:
            return kind(text)
        except ValueError:
            continue
    raise PipelineError(f"--set {key}: {text!r} is not a {type(default).__name__}")


def parse_grid(settings: list[str], base: RunConfig) -> dict[str, list]:
    """`KEY=V1,V2` values of --set, cast to each setting's type."""
    fields = {f.name for f in dataclasses.fields(RunConfig)} - set(NOT_SWEPT)
    grid: dict[str, list] = {}
    for item in settings:
        key, sep, values = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not values:
            raise PipelineError(f"--set takes KEY=V1,V2,…, not {item!r}")
        if key not in fields:
            raise PipelineError(f"--set {key}: not a setting a sweep can vary ({sorted(fields)})")
        grid[key] = [_cast(key, v.strip(), getattr(base, key)) for v in values.split(",")]
    if not grid:
        raise PipelineError("a sweep needs at least one --set KEY=V1,V2")
    return grid


def points(base: RunConfig, grid: dict[str, list]) -> list[tuple[dict, RunConfig]]:
    """Every combination of the grid as (its values, the run's config), each validated."""
    found = []
    for combo in itertools.product(*grid.values()):
        values = dict(zip(grid, combo, strict=True))
        config = base.replace(**values)
        try:
            validate(config)
        except ValueError as err:
            raise PipelineError(f"sweep point {values}: {err}") from None
        found.append((values, config))
    return found


def sweep_id(base: RunConfig, grid: dict[str, list]) -> str:
    return json_sha256([base.fingerprint(), grid], default=str)[:10]


def run_sweep(
    base: RunConfig,
    grid: dict[str, list],
    log: Console | None = None,
    cluster: Cluster | None = None,
    wait: bool = True,
) -> dict:
    """Train every point of the grid as an ordinary run; returns the sweep record.

    In-process the runs train one after another. On a Ray `cluster` they are tasks
    spread over its nodes, the sweep holding the artifacts folder's lock for them.
    """
    log = log or Console()
    record_file = Path(base.out_dir) / SWEEPS / f"{sweep_id(base, grid)}.json"
    log(f"Sweep {record_file.stem}: {len(points(base, grid))} run(s) over {', '.join(grid)}")
    record = {"sweep_id": record_file.stem, "grid": grid}
    record = run_grid(
        base, grid, record_file=record_file, record=record, log=log, cluster=cluster, wait=wait
    )
    log(f"Sweep complete: {record_file}")
    return record


def run_grid(
    base: RunConfig,
    grid: dict[str, list],
    *,
    record_file: Path,
    record: dict,
    log: Console,
    cluster: Cluster | None = None,
    wait: bool = True,
) -> dict:
    """Train every point of `grid` not yet done, adding each finished run to `record`
    (written to `record_file` as it goes); a sweep and a repeat group are both grids."""
    plan = points(base, grid)
    done = _finished_points(record_file, Path(base.out_dir))
    earlier = _created(record_file)
    record = {
        **record,
        "created": earlier or dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "base": base.to_dict(),
        "runs": list(done.values()),
    }
    todo = []
    for number, (values, config) in enumerate(plan, 1):
        if _key(values) in done:
            log(f"run {number}/{len(plan)}: {values} already done")
        else:
            todo.append((number, values, config))

    def finished(values: dict, run_id: str) -> None:
        record["runs"].append({"values": values, "run_id": run_id})
        artifacts.write_json(record_file, record)

    if cluster is None:
        _run_here(todo, len(plan), log, finished=finished, wait=wait)
    else:
        with WriterLock(Path(base.out_dir), "sweep", wait, log=log):
            _run_on_ray(cluster, todo, len(plan), log=log, finished=finished)
    order = {_key(values): i for i, (values, _) in enumerate(plan)}
    record["runs"].sort(key=lambda r: order.get(_key(r["values"]), len(order)))
    artifacts.write_json(record_file, record)
    return record


def _created(record_file: Path) -> str | None:
    try:
        return json.loads(record_file.read_text()).get("created")
    except (OSError, ValueError, AttributeError):
        return None


def _run_here(todo, total: int, log: Console, finished, wait: bool) -> None:

    for number, values, config in todo:
        log(f"run {number}/{total}: {values}")
        finished(values, train_study(config, log, wait=wait).run_id)


def _sweep_task(config: RunConfig) -> str:
    """Runs on a Ray worker: one run of the sweep, in-process there."""

    apply_thread_cap()
    return train_study_unlocked(config, Console()).run_id


def _run_on_ray(cluster: Cluster, todo, total: int, log: Console, finished) -> None:
    import ray

    task = ray.remote(_sweep_task)
    pending = {}
    for number, values, config in todo:
        log(f"sweep run {number}/{total}: {values} (on the cluster)")
        options = remote_args(cluster.node_cpus, cluster.node_gpus)
        ref = task.options(name=f"sweep run {number}", max_retries=TASK_RETRIES, **options)
        pending[ref.remote(config.absolute())] = (number, values)
    failed = None
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        number, values = pending.pop(ready[0])
        try:
            run_id = ray.get(ready[0])
        except ray.exceptions.RayError as err:
            failed = failed or unwrap(err)  # the other runs go on; each is kept when done
            log(f"sweep run {number}/{total}: {values} failed: {unwrap(err)}")
            continue
        log(f"sweep run {number}/{total}: {values} done, run {run_id}")
        finished(values, run_id)
    if failed is not None:
        raise failed


def _key(values: dict) -> str:
    return json.dumps(values, sort_keys=True, default=str)


def _finished_points(record_file: Path, out_dir: Path) -> dict[str, dict]:
    """Points of an earlier, interrupted run of the same sweep whose run is complete."""
    try:
        earlier = json.loads(record_file.read_text())
    except (OSError, ValueError):
        return {}
    finished = {}
    for entry in earlier.get("runs", []):
        try:
            run = artifacts.read_run(out_dir / artifacts.RUNS / entry["run_id"])
        except (artifacts.ArtifactError, KeyError):
            continue
        if run.complete:
            finished[_key(entry["values"])] = entry
    return finished


def list_sweeps(out_dir: Path) -> list[dict]:
    """Every sweep record under `out_dir`, newest first."""
    return read_records(Path(out_dir) / SWEEPS)


def read_records(folder: Path) -> list[dict]:
    """Every readable JSON record in `folder` (sweeps, repeat groups), newest first."""
    records = []
    for file in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            records.append(json.loads(file.read_text()))
        except (OSError, ValueError):
            continue
    return sorted(records, key=lambda r: r.get("created", ""), reverse=True)
