"""One study: check the data, train each model, evaluate it, record everything.

A run writes into `runs/<run-id>/`; each model's folder appears in one rename
when it is complete, and `latest` moves only when every model is done. Running
the same command again resumes the unfinished run.
"""

from __future__ import annotations

import datetime as dt
import errno
import os
import platform
import sys
import time
from pathlib import Path

import pandas as pd

from pipeline import artifacts
from pipeline.config import RunConfig
from pipeline.dataset import Dataset, load_dataset, skipped_as_dicts
from pipeline.errors import PipelineError

MOBILENETS = ("mobilenetv2_frozen", "mobilenetv2_finetuned")
ORDER = ("cnn3", "cnn4", "mobilenetv2_frozen", "mobilenetv2_finetuned")


def plan_models(config: RunConfig) -> list[str]:
    """Models to train, in order; fine-tuning needs the frozen model first."""
    wanted = set(config.models)
    if "mobilenetv2_finetuned" in wanted:
        wanted.add("mobilenetv2_frozen")
    return [m for m in ORDER if m in wanted]


def environment() -> dict:
    import keras
    import tensorflow as tf

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "platform": platform.platform(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
    }


def _git_commit() -> str | None:
    head = Path(__file__).resolve().parent.parent / ".git" / "HEAD"
    try:
        ref = head.read_text().strip()
        if ref.startswith("ref: "):
            return (head.parent / ref[5:]).read_text().strip()
        return ref
    except OSError:
        return None


def find_resumable(out_dir: Path, config: RunConfig) -> artifacts.Run | None:
    for run in artifacts.list_runs(out_dir):
        if not run.complete and run.manifest.get("config_fingerprint") == config.fingerprint():
            return run
    return None


def new_run_dir(out_dir: Path, config: RunConfig) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = out_dir / artifacts.RUNS / f"{stamp}-{config.profile}-{config.fingerprint()}"
    run_dir.mkdir(parents=True, exist_ok=False)
    return run_dir


def dataset_record(dataset: Dataset, config: RunConfig) -> dict:
    return {
        "root": dataset.root,
        "class_names": dataset.class_names,
        "positive_class": dataset.class_names[1],
        "counts": dataset.counts(),
        "skipped": skipped_as_dicts(dataset),
        "converted": [{"path": p, "conversion": c} for p, c in sorted(dataset.converted.items())],
        "excluded": dataset.excluded,
        "exclude_file": config.exclude_file,
        "seed": config.seed,
        "val_fraction": config.val_fraction,
        "max_per_class": config.max_per_class,
        "split_rule": "sha256('split:<seed>:<relative path>') below val_fraction -> validation",
    }


def write_split(run_dir: Path, dataset: Dataset) -> None:
    rows = [(s.path, s.label, "train") for s in dataset.train]
    rows += [(s.path, s.label, "val") for s in dataset.val]
    frame = pd.DataFrame(rows, columns=["path", "label", "split"]).sort_values("path")
    artifacts.write_csv(run_dir / artifacts.SPLIT, frame)


class Console:
    """Plain progress lines on the terminal."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stdout

    def __call__(self, message: str) -> None:
        print(message, file=self.stream, flush=True)

    def counter(self, label: str, total: int):
        state = {"done": 0, "next": 0, "start": time.perf_counter()}

        def step(n: int) -> None:
            state["done"] += n
            if state["done"] >= state["next"] or state["done"] >= total:
                rate = state["done"] / max(1e-9, time.perf_counter() - state["start"])
                self(f"  {label}: {state['done']:,}/{total:,} ({rate:.0f}/s)")
                state["next"] += max(1, total // 10)

        return step


def train_study(
    config: RunConfig, log: Console | None = None, fresh: bool = False
) -> artifacts.Run:
    """Train, evaluate and record every model of `config`; returns the complete run."""
    log = log or Console()
    out_dir = Path(config.out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        return _train_study(config, log, out_dir, fresh)
    except OSError as err:
        if err.errno == errno.ENOSPC:
            raise PipelineError(
                f"the disk holding {out_dir} is full. Free some space and run the same "
                "command again: finished models are kept and the run resumes."
            ) from None
        raise


def _train_study(config: RunConfig, log: Console, out_dir: Path, fresh: bool) -> artifacts.Run:
    from pipeline import train

    resumed = None if fresh else find_resumable(out_dir, config)
    log(f"Checking images in {config.data_dir} ...")
    dataset = load_dataset(
        Path(config.data_dir),
        config.seed,
        config.val_fraction,
        config.max_per_class,
        config.exclude_file,
        out_dir / artifacts.CACHE / "scan.json",
        progress=lambda i, n: log(f"  checked {i:,}/{n:,} new files"),
    )
    counts = dataset.counts()
    log(
        f"  {counts['found']:,} files: {counts['usable']:,} used, {counts['skipped']:,} skipped, "
        f"{counts['converted']:,} converted, {counts['excluded']:,} excluded; "
        f"train {sum(counts['train'].values()):,} / validation {sum(counts['val'].values()):,}"
    )
    for item in dataset.skipped[:10]:
        log(f"  skipped {item.path}: {item.reason}")

    planned = plan_models(config)
    weights, notes = _prepare_weights(config, planned, log)

    # The run folder is made only once the data and weights are known to be usable.
    run_dir = resumed.path if resumed else new_run_dir(out_dir, config)
    log(("Resuming" if resumed else "Starting") + f" run {run_dir.name}")
    manifest = resumed.manifest if resumed else _new_manifest(run_dir, config)
    manifest.update(
        {
            "dataset": dataset_record(dataset, config),
            "weights": _weights_record(weights, config),
            "environment": environment(),
            "code_version": _git_commit(),
            "planned_models": planned,
            "notes": notes,
        }
    )
    artifacts.write_json(run_dir / artifacts.MANIFEST, manifest)
    write_split(run_dir, dataset)

    done = {m["name"]: m for m in manifest["models"]}
    for name in planned:
        if name in done and not artifacts.Run(run_dir, manifest).missing_files(name):
            log(f"{name}: already trained in this run, kept")
            continue
        log(f"{name}: training")
        record = _train_one(name, config, dataset, weights, run_dir, out_dir, manifest, log, train)
        manifest["models"] = [m for m in manifest["models"] if m["name"] != name] + [record]
        manifest["models"].sort(key=lambda m: ORDER.index(m["name"]))
        artifacts.write_json(run_dir / artifacts.MANIFEST, manifest)
        metric = record["metrics"]
        log(
            f"{name}: val accuracy {metric['accuracy']:.2%}, AUC {metric['roc_auc']:.4f}, "
            f"{record['train_seconds']:.0f}s training, {record['params']:,} params"
        )

    analyze_run(artifacts.Run(run_dir, manifest), dataset.root, log)
    manifest["status"] = "complete"
    manifest["completed"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    artifacts.write_json(run_dir / artifacts.MANIFEST, manifest)
    artifacts.point_latest(out_dir, run_dir)
    log(f"Run complete: {run_dir}")
    return artifacts.read_run(run_dir)


def _prepare_weights(config: RunConfig, planned: list[str], log: Console):
    """Resolve and test-load the backbone weights before any training; may drop fine-tuning."""
    from pipeline.models import build_mobilenetv2
    from pipeline.weights import resolve_weights

    notes: list[str] = []
    if not any(m in MOBILENETS for m in planned):
        return None, notes
    weights = resolve_weights(config.weights, config.mobilenet_input_size, config.imagenet_base_url)
    log(f"MobileNetV2 weights: {weights.spec} (sha256 {weights.sha256[:12]}...)")
    build_mobilenetv2(config.mobilenet_input_size, weights)  # fail now, not after the CNNs
    if weights.kind == "hub" and "mobilenetv2_finetuned" in planned:
        planned.remove("mobilenetv2_finetuned")
        notes.append(
            "mobilenetv2_finetuned skipped: a TensorFlow Hub model is opaque, so its "
            "last 30 layers cannot be unfrozen; use --weights imagenet or a file"
        )
        log("  " + notes[-1])
    return weights, notes


def _weights_record(weights, config: RunConfig) -> dict | None:
    if weights is None:
        return None
    return weights.to_dict() | {"input_size": [config.mobilenet_input_size] * 2}


def _new_manifest(run_dir: Path, config: RunConfig) -> dict:
    return {
        "schema_version": artifacts.SCHEMA_VERSION,
        "run_id": run_dir.name,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "status": "running",
        "config": config.to_dict(),
        "config_fingerprint": config.fingerprint(),
        "models": [],
    }


def _train_one(name, config, dataset, weights, run_dir, out_dir, manifest, log, train) -> dict:
    from pipeline import evaluate, models

    cache_dir = out_dir / artifacts.CACHE / "features"
    if name in ("cnn3", "cnn4"):
        progress = log.counter("photos decoded", len(dataset.train) + len(dataset.val))
        trained = train.train_cnn(name, config, dataset, cache_dir, progress)
    elif name == "mobilenetv2_frozen":
        n_images = len(dataset.train) * config.feature_views + len(dataset.val)
        progress = log.counter("features", n_images)
        with_cut = "mobilenetv2_finetuned" in manifest["planned_models"]
        trained = train.train_frozen(config, dataset, weights, cache_dir, with_cut, progress)
    else:
        n_images = len(dataset.train) * config.feature_views + len(dataset.val)
        progress = log.counter("features", n_images)
        frozen = artifacts.Run(run_dir, manifest)
        trained = train.train_finetuned(
            config,
            dataset,
            weights,
            frozen.model_path("mobilenetv2_frozen"),
            frozen.history("mobilenetv2_frozen").to_dict("records"),
            cache_dir,
            progress,
        )
    stage = artifacts.staging_dir(run_dir, name)
    trained.model.save(stage / artifacts.MODEL_FILE, include_optimizer=False)
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
    )
    artifacts.publish_dir(stage, run_dir / artifacts.MODELS / name)
    model_file = run_dir / artifacts.MODELS / name / artifacts.MODEL_FILE
    record = {
        "name": name,
        "file": str(model_file.relative_to(run_dir)),
        "input_size": list(trained.model.input_shape[1:3]),
        "params": int(trained.model.count_params()),
        "trainable_params": models.trainable_params(trained.model),
        "train_seconds": round(trained.seconds, 1),
        "epochs": len(trained.history),
        "size_bytes": model_file.stat().st_size,
        "metrics": scores,
        "notes": trained.notes,
    }
    if trained.val_predictions is not None:
        record["notes"] = trained.notes + [
            "validation predictions computed from the cached activations of the frozen "
            "layers, which equal the saved model's on the photos; "
            "`python -m pipeline evaluate RUN` recomputes them from the photos"
        ]
    if name == "mobilenetv2_finetuned":
        record["continues"] = "mobilenetv2_frozen"
    return record


def resolve_run(out_dir: Path, ref: str) -> artifacts.Run:
    """A run named by path, by id under `out_dir/runs`, or 'latest'."""
    candidates = [Path(ref), out_dir / artifacts.RUNS / ref]
    if ref == "latest":
        run = artifacts.latest_run(out_dir)
        if run is None:
            raise PipelineError(
                f"{out_dir} has no complete run yet; run `python -m pipeline train`"
            )
        return run
    for path in candidates:
        if (path / artifacts.MANIFEST).is_file():
            try:
                return artifacts.read_run(path)
            except artifacts.ArtifactError as err:
                raise PipelineError(str(err)) from None
    raise PipelineError(f"no run found at {ref} (looked in {out_dir / artifacts.RUNS})")


def evaluate_run(
    run: artifacts.Run, data_dir: str | None = None, log: Console | None = None
) -> dict:
    """Re-score every model of a run on its recorded validation split; returns name -> metrics."""
    import keras

    from pipeline import evaluate
    from pipeline.dataset import Sample

    log = log or Console()
    root = data_dir or run.manifest["dataset"]["root"]
    if not Path(root).is_dir():
        raise PipelineError(f"the run's photos are not at {root}; pass --data-dir")
    split = run.split()
    val = [Sample(p, int(y)) for p, y in split[split.split == "val"][["path", "label"]].values]
    results = {}
    for record in run.model_records():
        name = record["name"]
        model = keras.models.load_model(run.model_path(name), safe_mode=True)
        log(f"{name}: evaluating on {len(val):,} validation photos")
        scores = evaluate.evaluate_into(
            run.model_dir(name),
            model,
            root,
            val,
            run.class_names,
            run.manifest["config"].get("inference_batch_size", 16),
            run.path / artifacts.THUMBS,
        )
        record["metrics"] = scores
        results[name] = scores
        log(f"{name}: val accuracy {scores['accuracy']:.2%}, AUC {scores['roc_auc']:.4f}")
    artifacts.write_json(run.path / artifacts.MANIFEST, run.manifest)
    analyze_run(run, root, log)
    return results


def analyze_run(run: artifacts.Run, data_dir: str | None = None, log: Console | None = None):
    """Store the run's comparison analysis, and Grad-CAM maps when its photos are at hand."""
    import keras

    from pipeline import analysis

    log = log or Console()
    if not run.model_names():
        raise PipelineError(f"run {run.run_id} has no trained model to analyse")
    result = analysis.analyze(run)
    for row in result["mcnemar"]:
        log("  " + row["verdict"])
    log(
        f"  {result['suspects']['count']} photo(s) every model confidently puts in the other "
        f"class: {run.path / artifacts.SUSPECTS}"
    )
    root = data_dir or run.manifest["dataset"]["root"]
    if not Path(root).is_dir():
        log(f"  Grad-CAM maps skipped: the photos are not at {root} (pass --data-dir)")
        return result
    loaded = {
        n: keras.models.load_model(run.model_path(n), safe_mode=True) for n in run.model_names()
    }
    count = analysis.explain_photos(run, root, analysis.photos_to_explain(run), loaded)
    log(f"  Grad-CAM maps stored for {count} photo(s) under {run.path / artifacts.GRADCAM}")
    return result
