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
from pipeline.data.dataset import Dataset, load_dataset
from pipeline.data.fingerprint import data_fingerprint, preprocessing_identity, run_identity
from pipeline.distributed.cluster import Cluster
from pipeline.environment import cpu_description, environment, git_commit
from pipeline.errors import plain_os_errors
from pipeline.modeling import external, precision
from pipeline.registry import MODEL_NAMES, spec
from pipeline.store import artifacts, checkpoint, manifest
from pipeline.store.lock import WriterLock
from pipeline.store.runs import find_resumable, new_run_dir
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
    with plain_os_errors(out_dir), WriterLock(out_dir, "train", wait, log) as held:
        return train_study_unlocked(config, log, fresh, held, cluster)


def _load_data(config: RunConfig, out_dir: Path, log: Console) -> Dataset:
    log(f"Checking images in {config.data_dir} ...")
    dataset = load_dataset(
        Path(config.data_dir),
        config.seed,
        config.val_fraction,
        config.max_per_class,
        config.exclude_file,
        out_dir / artifacts.CACHE / SCAN_CACHE,
        progress=lambda i, n: log(f"  hashed and checked {i:,}/{n:,} files"),
        dev_fraction=config.dev_fraction,
    )
    counts = dataset.counts()
    log(
        f"  {counts['found']:,} files: {counts['usable']:,} used, {counts['skipped']:,} skipped, "
        f"{counts['converted']:,} converted, {counts['excluded']:,} excluded; "
        f"train {sum(counts['train'].values()):,} / validation {sum(counts['val'].values()):,}"
    )
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
    if cluster is not None:  # workers on other nodes do not share this directory
        config = config.absolute()
    out_dir = Path(config.out_dir)
    gpus = cluster.node_gpus if cluster is not None else None  # the workers', on Ray
    settings = devices.input_settings(config.inference_batch_size, gpus)
    # "auto" is settled here, so the run's identity and manifest say what it trained in.
    flags = cpu_description()["cpu_flags"]
    config = config.replace(precision=precision.resolve(config.precision, flags, settings.gpus))
    dataset = _load_data(config, out_dir, log)
    planned = plan_models(config)
    weights, notes = _prepare_weights(config, planned, log)
    users = external.parse(config.external)
    checked = {}  # loaded now, so that a bad file fails before the others are trained
    for model in users:
        checked[model.name] = external.load_checked(model)
        log(f"external model {model.name}: {model.path} (sha256 {model.sha256[:12]}...)")
    planned += [m.name for m in users]
    identity = run_identity(
        config.fingerprint(),
        data_fingerprint(dataset),
        weights.sha256 if weights else None,
        preprocessing_identity(),
        {m.name: m.sha256 for m in users},
    )
    split = manifest.split_frame(dataset)
    resumed, why_not = (None, None) if fresh else find_resumable(out_dir, config, identity, split)
    if why_not:
        log(why_not)
    if resumed is not None and resumed.complete:
        log(f"Run {resumed.run_id} is already complete; its publish was cut short, finishing it")
        artifacts.point_latest(out_dir, resumed.path)
        return artifacts.read_run(resumed.path)
    if settings.inference_batch != config.inference_batch_size:
        # After the identity: the batch changes float noise, not the models, so a run
        # started on a GPU host resumes on a CPU host and the other way round.
        log(f"{settings.gpus} GPU(s): inference batch {settings.inference_batch}")
        config = config.replace(inference_batch_size=settings.inference_batch)

    # The run folder is made only once the data and weights are known to be usable.
    run_dir = resumed.path if resumed else new_run_dir(out_dir, config, identity["key"])
    log(("Resuming" if resumed else "Starting") + f" run {run_dir.name}")
    if held is not None:
        held.describe(run=run_dir.name)  # the dashboard shows this run as training
    record = resumed.manifest if resumed else manifest.new_manifest(run_dir, config, identity)
    record.update(
        {
            "config": config.to_dict(),  # only where the photos and outputs are may differ
            "dataset": manifest.dataset_record(dataset, config),
            "weights": manifest.weights_record(weights, config),
            "environment": environment(),
            "input_pipeline": settings.record(),
            "cluster": cluster.record() if cluster else None,
            "code_version": git_commit(),
            "planned_models": planned,
            "notes": notes,
        }
    )
    if not (run_dir / artifacts.SPLIT).is_file():
        artifacts.write_csv(run_dir / artifacts.SPLIT, split)
    artifacts.write_json(run_dir / artifacts.MANIFEST, record)
    artifacts.remove_stale_staging(run_dir)

    run = artifacts.Run(run_dir, record)  # follows `record` as models are added

    def recorded(name: str, model_record: dict, caches: list[str]) -> None:
        record["models"] = [m for m in record["models"] if m["name"] != name] + [model_record]
        record["models"].sort(key=lambda m: planned.index(m["name"]))
        record["caches"] = sorted(set(record.get("caches", [])) | set(caches))
        artifacts.write_json(run_dir / artifacts.MANIFEST, record)
        faults.point("model-recorded")
        metric = model_record["metrics"]
        log(
            f"{name}: val accuracy {metric['accuracy']:.2%}, AUC {metric['roc_auc']:.4f}, "
            f"{model_record['train_seconds']:.0f}s training, {model_record['params']:,} params"
        )

    todo = []
    for name in planned:
        if name in run.model_names() and not run.missing_files(name):
            log(f"{name}: already trained in this run, kept")
        else:
            todo.append(name)
    for user in users:
        if user.name in todo:
            log(f"{user.name}: scoring your model on {len(dataset.val):,} validation photos")
            scored = _score_external(user, checked[user.name], config, dataset, run_dir, log)
            recorded(user.name, scored, [])
    ours = [name for name in todo if name in MODEL_NAMES]
    if cluster is None:
        for name in ours:
            log(f"{name}: training")
            recorded(name, *train_one(name, config, dataset, weights, run_dir, record, log))
    else:
        from pipeline.distributed import ray_study

        ray_study.train_models(
            cluster, config, dataset, weights, run_dir, record, ours, log, recorded
        )

    # The analysis also records every file's sha256 in `record`.
    analyze_unlocked(run, dataset.root, log, cluster, robustness=config.robustness_photos > 0)
    record["status"] = "complete"
    record["completed"] = manifest.now()
    artifacts.write_json(run_dir / artifacts.MANIFEST, record)
    faults.point("run-complete")
    artifacts.point_latest(out_dir, run_dir)
    log(f"Run complete: {run_dir}")
    return artifacts.read_run(run_dir)


def _score_external(user, model, config: RunConfig, dataset: Dataset, run_dir: Path, log) -> dict:
    """Score a user's model on the validation photos; its files join the run like ours."""
    from pipeline.evaluation import evaluate
    from pipeline.modeling import models

    stage = artifacts.staging_dir(run_dir, user.name)
    external.copy_into(user, stage)
    history = pd.DataFrame(columns=artifacts.HISTORY_COLUMNS)  # trained elsewhere
    artifacts.write_csv(stage / artifacts.HISTORY, history)
    scores = evaluate.evaluate_into(
        stage,
        model,
        dataset.root,
        dataset.val,
        dataset.class_names,
        config.inference_batch_size,
        run_dir / artifacts.THUMBS,
        progress=log.counter(f"{user.name}: photos scored", len(dataset.val)),
    )
    artifacts.publish_dir(stage, run_dir / artifacts.MODELS / user.name)
    model_file = run_dir / artifacts.MODELS / user.name / artifacts.MODEL_FILE
    return {
        "name": user.name,
        "file": str(model_file.relative_to(run_dir)),
        "input_size": list(model.input_shape[1:3]),
        "params": int(model.count_params()),
        "trainable_params": models.trainable_params(model),
        "train_seconds": 0.0,
        "epochs": 0,
        "size_bytes": model_file.stat().st_size,
        "metrics": scores,
        "external": {"path": user.path, "sha256": user.sha256},
        "notes": [f"external model, trained elsewhere: {user.path}"],
    }


def _prepare_weights(config: RunConfig, planned: list[str], log: Console):
    """Resolve and test-load the backbone weights before any training; may drop fine-tuning."""
    from pipeline.modeling.models import build_mobilenetv2
    from pipeline.modeling.weights import resolve_weights

    notes: list[str] = []
    if not any(spec(m).uses_backbone for m in planned):
        return None, notes
    weights = resolve_weights(config.weights, config.mobilenet_input_size, config.imagenet_base_url)
    log(f"MobileNetV2 weights: {weights.spec} (sha256 {weights.sha256[:12]}...)")
    build_mobilenetv2(config.mobilenet_input_size, weights)  # fail now, not after the CNNs
    tuned = [m for m in planned if spec(m).trainer == "finetuned"]
    if weights.kind == "hub" and tuned:
        planned.remove(tuned[0])
        notes.append(
            f"{tuned[0]} skipped: a TensorFlow Hub model is opaque, so its "
            "last layers cannot be unfrozen; use --weights imagenet or a file"
        )
        log("  " + notes[-1])
    return weights, notes


def _fit_model(name, config, dataset, weights, run_dir, record, log, ckpt, strategy):
    """Train one model with its registry trainer (under `strategy`, when several devices);
    returns (trained, photo passes computed, photo passes needed)."""
    from pipeline.modeling import train

    cache_root = Path(config.out_dir) / artifacts.CACHE
    trainer = spec(name).trainer
    if trainer == "cnn":
        label, needed = "photos decoded", len(dataset.train) + len(dataset.val)
        if config.cnn_resize_mix > 0:  # the training photos' TensorFlow-resized view too
            needed += len(dataset.train)
    else:
        label = "photos through MobileNetV2"
        needed = len(dataset.train) * config.feature_views + len(dataset.val)
    counter, computed = log.counter(label, needed), []

    def progress(n: int) -> None:
        computed.append(n)
        counter(n)

    with devices.strategy_scope(strategy):
        if trainer == "cnn":
            trained = train.train_cnn(name, config, dataset, cache_root, progress, ckpt)
        elif trainer == "frozen":
            with_cut = any(spec(m).needs == name for m in record["planned_models"])
            trained = train.train_frozen(
                config, dataset, weights, cache_root, with_cut, progress, ckpt
            )
        else:
            base = artifacts.Run(run_dir, record)
            trained = train.train_finetuned(
                config,
                dataset,
                weights,
                base.model_path(spec(name).needs),
                base.history(spec(name).needs).to_dict("records"),
                cache_root,
                progress,
                ckpt,
            )
    return trained, sum(computed), needed


def train_one(name, config, dataset, weights, run_dir, record, log) -> tuple[dict, list[str]]:
    """Train, save, score and publish one of our models; returns (its record, caches read)."""
    from pipeline.evaluation import evaluate
    from pipeline.modeling import models

    outputs = checkpoint.EpochOutputs(
        artifacts.checkpoint_dir(run_dir, name), run_dir / artifacts.TENSORBOARD / name
    )
    strategy = devices.training_strategy()
    trained, computed, needed = _fit_model(
        name, config, dataset, weights, run_dir, record, log, outputs, strategy
    )
    if config.frozen_mode != "end-to-end" or spec(name).trainer == "cnn":
        log(f"{name}: {computed:,} photo(s) computed, {needed - computed:,} from the cache")
    if trained.resumed_at:
        log(f"{name}: resumed after epoch {trained.resumed_at} from its checkpoint")
    stage = artifacts.staging_dir(run_dir, name)
    trained.model.save(stage / artifacts.MODEL_FILE, include_optimizer=False)
    if strategy is not None:
        # A model trained under a strategy predicts through it, and TensorFlow 2.21
        # returns uneven batches duplicated: score the saved file, from the photos.
        from pipeline.modeling import saved_models

        trained.model = saved_models.load(stage / artifacts.MODEL_FILE)
        trained.val_predictions = None
    faults.point("model-save")
    history = pd.DataFrame(trained.history, columns=artifacts.HISTORY_COLUMNS)
    artifacts.write_csv(stage / artifacts.HISTORY, history)
    log(f"{name}: evaluating on {len(dataset.val):,} validation photos")
    scores = evaluate.evaluate_into(
        stage,
        trained.model,
        dataset.root,
        dataset.val,
        dataset.class_names,
        config.inference_batch_size,
        run_dir / artifacts.THUMBS,
        trained.val_predictions,
        log.counter(f"{name}: photos scored", len(dataset.val)),
    )
    artifacts.publish_dir(stage, run_dir / artifacts.MODELS / name)
    checkpoint.remove(outputs.checkpoint)
    model_file = run_dir / artifacts.MODELS / name / artifacts.MODEL_FILE
    model_record = {
        "name": name,
        "file": str(model_file.relative_to(run_dir)),
        "input_size": list(trained.model.input_shape[1:3]),
        "params": int(trained.model.count_params()),
        "trainable_params": models.trainable_params(trained.model),
        "train_seconds": round(trained.seconds, 1),
        "epochs": len(trained.history),
        "resumed_after_epoch": trained.resumed_at or None,
        "distribution": devices.strategy_record(strategy),
        "cache": {"computed": computed, "reused": needed - computed},
        "size_bytes": model_file.stat().st_size,
        "metrics": scores,
        "notes": trained.notes,
    }
    if trained.val_predictions is not None:
        model_record["notes"] = trained.notes + [
            "validation predictions computed from the cached activations of the frozen "
            "layers, which equal the saved model's on the photos; "
            "`python -m pipeline evaluate RUN` recomputes them from the photos"
        ]
    if spec(name).needs:
        model_record["continues"] = spec(name).needs
    return model_record, trained.caches
