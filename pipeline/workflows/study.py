"""One study: check the data, train each model, evaluate it, record everything.

A run writes into `runs/<run-id>/`; each model's folder appears in one rename
when it is complete, and `latest` moves only when every model is done. Running
the same command again resumes the unfinished run when its identity (settings,
photos, weights, preprocessing code) is unchanged, from the last finished
epoch of the model in training; otherwise a new run starts and says why.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipeline import devices, faults
from pipeline.config import RunConfig
from pipeline.console import Console
from pipeline.data.dataset import Dataset, class_imbalance, load_dataset
from pipeline.data.fingerprint import data_fingerprint, preprocessing_identity, run_identity
from pipeline.data.photo_size import cnn_input_for
from pipeline.distributed.cluster import Cluster
from pipeline.environment import cpu_description, environment, git_commit
from pipeline.errors import plain_os_errors
from pipeline.modeling import external, precision
from pipeline.modeling.engine import choose
from pipeline.modeling.models import build_mobilenetv2
from pipeline.modeling.weights import WeightsSource, resolve_weights
from pipeline.registry import MODEL_NAMES, spec
from pipeline.store import artifacts, manifest
from pipeline.store.lock import WriterLock
from pipeline.store.runs import find_resumable, new_run_dir
from pipeline.workflows import near_dedupe
from pipeline.workflows.one_model import score_external, train_one
from pipeline.workflows.rescore import analyze_unlocked

SCAN_CACHE = "scan.json"


def plan_models(config: RunConfig) -> list[str]:
    """Models to train, in registry order, with the models they need (fine-tuning needs
    the frozen model first)."""
    wanted = set(config.models)
    for name in list(wanted):
        while spec(name).needs:
            name = spec(name).needs
            wanted.add(name)
    return [m for m in MODEL_NAMES if m in wanted]


def train_study(
    config: RunConfig,
    log: Console | None = None,
    fresh: bool = False,
    wait: bool = True,
    cluster: Cluster | None = None,
) -> artifacts.Run:
    """Train, evaluate and record every model of `config`; returns the complete run.

    Holds the artifacts folder's writer lock throughout (waits for it unless `wait`
    is False). With a Ray `cluster`, the models train as tasks on it
    (`pipeline.distributed.ray_study`); otherwise everything runs in this process.
    """
    log = log or Console()
    out_dir = Path(config.out_dir)
    with plain_os_errors(out_dir), WriterLock(out_dir, "train", wait, log=log) as held:
        return train_study_unlocked(config, log, fresh=fresh, held=held, cluster=cluster)


def _load_data(config: RunConfig, out_dir: Path, log: Console) -> Dataset:
    log(f"Checking images in {config.data_dir} ...")
    dataset = load_dataset(
        Path(config.data_dir),
        config.seed,
        config.val_fraction,
        max_per_class=config.max_per_class,
        exclude_file=config.exclude_file,
        cache_file=out_dir / artifacts.CACHE / SCAN_CACHE,
        progress=lambda i, n: log(f"  hashed and checked {i:,}/{n:,} files"),
        dev_fraction=config.dev_fraction,
    )
    counts = dataset.counts()
    log(
        f"  {counts['found']:,} files: {counts['usable']:,} used, {counts['skipped']:,} skipped, "
        f"{counts['converted']:,} converted, {counts['excluded']:,} excluded; "
        f"train {sum(counts['train'].values()):,} / validation {sum(counts['val'].values()):,}"
    )
    if dataset.given_split:
        log(f"  split: {manifest.split_description(dataset)}, as the folders give it")
    if dataset.leaks:
        log(
            f"  {len(dataset.leaks):,} validation photo(s) are identical to a training photo "
            f"(e.g. {dataset.leaks[0]}): their scores measure memory, not generalisation"
        )
    imbalance = class_imbalance(counts["train"])
    if imbalance:
        log(f"  warning: {imbalance}")
    if dataset.held_out:
        log(
            f"  dev split: {config.dev_fraction:.0%} of the training photos are scored instead "
            f"of the validation photos; those {dataset.held_out:,} are left out of this run"
        )
    for item in dataset.skipped[:10]:
        log(f"  skipped {item.path}: {item.reason}")
    if dataset.duplicates:
        n = sum(len(g) for g in dataset.duplicates)
        log(
            f"  {len(dataset.duplicates):,} group(s) of identical photos ({n:,} files); "
            "each group stays on one side of the split"
        )
    if dataset.unmatched_exclusions:
        shown = ", ".join(dataset.unmatched_exclusions[:5])
        more = len(dataset.unmatched_exclusions) - 5
        log(
            f"  {len(dataset.unmatched_exclusions)} entr(ies) of {config.exclude_file} match no "
            f"photo: {shown}" + (f" and {more} more" if more > 0 else "")
        )
    return dataset


def train_study_unlocked(
    config: RunConfig,
    log: Console,
    fresh: bool = False,
    held: WriterLock | None = None,
    cluster: Cluster | None = None,
) -> artifacts.Run:
    """`train_study` for a caller that already holds the writer lock (a sweep on Ray)."""
    config, settings = _settle(config, cluster)
    out_dir = Path(config.out_dir)
    dataset = _load_data(config, out_dir, log)
    config = _settle_cnn_size(config, dataset, log)
    planned, weights, notes = _prepare_weights(config, plan_models(config), log)
    if config.dedupe_near:  # before the identity: the split it trains on is part of it
        dataset = near_dedupe.regroup(
            dataset, config=config, weights=weights, cache_root=out_dir / artifacts.CACHE, log=log
        )
    users = external.parse(config.external)
    checked = _check_external(users, dataset.class_names, log)
    planned += [m.name for m in users]
    identity = run_identity(
        config.fingerprint(),
        data_fingerprint(dataset),
        weights.sha256 if weights else None,
        preprocessing=preprocessing_identity(),
        external={m.name: m.sha256 for m in users},
    )  # settings, photos, weights, preprocessing code and users' models
    split = manifest.split_frame(dataset)
    resumed, why_not = (
        (None, None) if fresh else find_resumable(out_dir, config, identity, split=split)
    )
    if why_not:
        log(why_not)
    if resumed is not None and resumed.complete:
        log(f"Run {resumed.run_id} is already complete; its publish was cut short, finishing it")
        artifacts.point_latest(out_dir, resumed.path)
        return artifacts.read_run(resumed.path)
    config = _inference_batch_for(config, settings, log)

    # The run folder is made only once the data and weights are known to be usable.
    run_dir = resumed.path if resumed else new_run_dir(out_dir, config, identity["key"])
    log(("Resuming" if resumed else "Starting") + f" run {run_dir.name}")
    if held is not None:
        held.describe(run=run_dir.name)  # the dashboard shows this run as training
    record = resumed.manifest if resumed else manifest.new_manifest(run_dir, config, identity)
    used = _what_the_run_used(
        config, dataset, weights, settings=settings, cluster=cluster, planned=planned, notes=notes
    )
    record.update(used)
    run = _open_run(run_dir, record, split)
    recorded = _recorder(run, planned, log)
    todo = _still_to_do(run, planned, log)
    for user in (u for u in users if u.name in todo):
        log(f"{user.name}: scoring your model on {len(dataset.val):,} validation photos")
        scored = score_external(
            user, checked[user.name], config=config, dataset=dataset, run_dir=run_dir, log=log
        )
        recorded(user.name, scored, [])
    ours = [name for name in todo if name in MODEL_NAMES]
    _train_ours(
        ours,
        config=config,
        dataset=dataset,
        weights=weights,
        run=run,
        log=log,
        recorded=recorded,
        cluster=cluster,
    )
    # The analysis also records every file's sha256 in `record`.
    analyze_unlocked(
        run, dataset.root, log, cluster=cluster, robustness=config.robustness_photos > 0
    )
    return _complete(run, out_dir, log)


def _settle(config: RunConfig, cluster: Cluster | None):
    """The config as this host runs it (absolute paths on Ray, "auto" precision settled, so the
    run's identity and manifest say what it trained in) and the input settings."""
    if cluster is not None:  # workers on other nodes do not share this directory
        config = config.absolute()
    gpus = cluster.node_gpus if cluster is not None else None  # the workers', on Ray
    settings = devices.input_settings(config.inference_batch_size, gpus)
    flags = cpu_description()["cpu_flags"]
    config = config.replace(precision=precision.resolve(config.precision, flags, settings.gpus))
    return config, settings


def _settle_cnn_size(config: RunConfig, dataset: Dataset, log: Console) -> RunConfig:
    """The CNNs' input size under `cnn_size_rule`. Settled before the identity, so the size
    the models train at is in the run's config and fingerprint."""
    if config.cnn_size_rule == "fixed":
        return config
    size = cnn_input_for(config.cnn_input_size, dataset.typical_side)
    if size == config.cnn_input_size:
        return config
    log(
        f"  the photos' typical side is {dataset.typical_side} px: the CNNs train at {size} px, "
        f"not {config.cnn_input_size} (--cnn-size-rule fixed keeps {config.cnn_input_size})"
    )
    return config.replace(cnn_input_size=size)


def _inference_batch_for(config: RunConfig, settings, log: Console) -> RunConfig:
    """The device's inference batch. Settled after the identity: the batch changes float
    noise, not the models, so a run started on a GPU host resumes on a CPU host and back."""
    if settings.inference_batch == config.inference_batch_size:
        return config
    log(f"{settings.gpus} GPU(s): inference batch {settings.inference_batch}")
    return config.replace(inference_batch_size=settings.inference_batch)


def _what_the_run_used(
    config: RunConfig,
    dataset: Dataset,
    weights: WeightsSource | None,
    *,
    settings,
    cluster: Cluster | None,
    planned: list[str],
    notes: list[str],
) -> dict:
    """The manifest's record of the settings, photos, weights, machine and plan of a run."""
    return {
        "config": config.to_dict(),  # only where the photos and outputs are may differ
        "dataset": manifest.dataset_record(dataset, config),
        "weights": manifest.weights_record(weights, config),
        "environment": environment(),
        "input_pipeline": settings.record(),
        # The forward passes' engine, and why (OpenVINO missing, a GPU, asked for).
        "inference": choose(config.inference, gpus=settings.gpus).record(),
        "cluster": cluster.record() if cluster else None,
        "code_version": git_commit(),
        "planned_models": planned,
        "notes": notes,
    }


def _check_external(
    users: list[external.ExternalModel], class_names: list[str], log: Console
) -> dict:
    """Each user's model loaded and checked now, so a bad file fails before ours train."""
    checked = {}
    for model in users:
        checked[model.name] = external.load_checked(model, class_names)
        log(f"external model {model.name}: {model.path} (sha256 {model.sha256[:12]}...)")
    return checked


def _open_run(run_dir: Path, record: dict, split: pd.DataFrame) -> artifacts.Run:
    """Write the run's split and manifest; the Run returned follows `record` as models land."""
    if not (run_dir / artifacts.SPLIT).is_file():
        artifacts.write_csv(run_dir / artifacts.SPLIT, split)
    artifacts.write_json(run_dir / artifacts.MANIFEST, record)
    artifacts.remove_stale_staging(run_dir)
    return artifacts.Run(run_dir, record)


def _recorder(run: artifacts.Run, planned: list[str], log: Console):
    """A function that adds a finished model's record to the manifest, on disk at once."""
    record = run.manifest

    def recorded(name: str, model_record: dict, caches: list[str]) -> None:
        record["models"] = [m for m in record["models"] if m["name"] != name] + [model_record]
        record["models"].sort(key=lambda m: planned.index(m["name"]))
        record["caches"] = sorted(set(record.get("caches", [])) | set(caches))
        artifacts.write_json(run.path / artifacts.MANIFEST, record)
        faults.point("model-recorded")
        metric = model_record["metrics"]
        top = f"top-{metric['top_k']} {metric['top_k_accuracy']:.2%}, " if "top_k" in metric else ""
        auc = "AUC" if "top_k" not in metric else "macro AUC"
        log(
            f"{name}: val accuracy {metric['accuracy']:.2%}, {top}{auc} {metric['roc_auc']:.4f}, "
            f"{model_record['train_seconds']:.0f}s training, {model_record['params']:,} params"
        )

    return recorded


def _still_to_do(run: artifacts.Run, planned: list[str], log: Console) -> list[str]:
    todo = []
    for name in planned:
        if name in run.model_names() and not run.missing_files(name):
            log(f"{name}: already trained in this run, kept")
        else:
            todo.append(name)
    return todo


def _train_ours(
    names: list[str],
    *,
    config: RunConfig,
    dataset: Dataset,
    weights: WeightsSource | None,
    run: artifacts.Run,
    log: Console,
    recorded,
    cluster: Cluster | None,
) -> None:
    """Train our models here, one after the other, or as tasks on a Ray `cluster`."""
    if cluster is None:
        for name in names:
            log(f"{name}: training")
            recorded(
                name,
                *train_one(
                    name,
                    config,
                    dataset,
                    weights=weights,
                    run_dir=run.path,
                    record=run.manifest,
                    log=log,
                ),
            )
        return
    from pipeline.distributed import ray_study  # Ray is optional: imported only when chosen

    ray_study.train_models(
        cluster,
        config=config,
        dataset=dataset,
        weights=weights,
        run_dir=run.path,
        record=run.manifest,
        todo=names,
        log=log,
        on_trained=recorded,
        train_one=train_one,
    )


def _complete(run: artifacts.Run, out_dir: Path, log: Console) -> artifacts.Run:
    record = run.manifest
    record["status"] = "complete"
    record["completed"] = manifest.now()
    artifacts.write_json(run.path / artifacts.MANIFEST, record)
    faults.point("run-complete")
    artifacts.point_latest(out_dir, run.path)
    log(f"Run complete: {run.path}")
    return artifacts.read_run(run.path)


def _prepare_weights(
    config: RunConfig, planned: list[str], log: Console
) -> tuple[list[str], WeightsSource | None, list[str]]:
    """Resolve and test-load the backbone weights before any training. Returns the models to
    train (fine-tuning is dropped for an opaque TF Hub base), the weights, and notes."""
    notes: list[str] = []
    if not any(spec(m).uses_backbone for m in planned):
        return planned, None, notes
    weights = resolve_weights(config.weights, config.mobilenet_input_size, config.imagenet_base_url)
    log(f"MobileNetV2 weights: {weights.spec} (sha256 {weights.sha256[:12]}...)")
    build_mobilenetv2(config.mobilenet_input_size, weights)  # fail now, not after the CNNs
    tuned = [m for m in planned if spec(m).trainer == "finetuned"]
    if weights.kind == "hub" and tuned:
        planned = [m for m in planned if m != tuned[0]]
        notes.append(
            f"{tuned[0]} skipped: a TensorFlow Hub model is opaque, so its "
            "last layers cannot be unfrozen; use --weights imagenet or a file"
        )
        log("  " + notes[-1])
    return planned, weights, notes
