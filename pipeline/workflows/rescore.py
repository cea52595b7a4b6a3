"""Re-score and re-analyse a finished run without retraining (`evaluate`, `analyze`)."""

from __future__ import annotations

import functools
import time
from pathlib import Path

from pipeline.config import RunConfig
from pipeline.console import Console
from pipeline.data.dataset import Sample
from pipeline.errors import PipelineError, plain_os_errors
from pipeline.evaluation import analysis, evaluate, label_errors, latency, leak_report, photo_map
from pipeline.evaluation.robustness import DEFAULT_PHOTOS, conditions
from pipeline.evaluation.robustness_eval import evaluate_robustness, resize_gap_all, resize_gaps
from pipeline.hashing import file_sha256
from pipeline.modeling import saved_models
from pipeline.modeling.engine import Engine
from pipeline.modeling.forward import engine_for
from pipeline.store import artifacts
from pipeline.store.lock import WriterLock
from pipeline.store.manifest import record_files


def _run_config(run: artifacts.Run) -> RunConfig:
    """The run's settings (RunConfig's defaults for any it did not record)."""
    return RunConfig.from_dict(run.manifest.get("config", {}))


def _engine(run: artifacts.Run) -> Engine:
    """The engine of the run's forward passes, converted models kept in its cache."""
    cache = _artifacts_dir(run) / artifacts.CACHE
    return engine_for(_run_config(run).inference, cache_dir=cache)


def _artifacts_dir(run: artifacts.Run) -> Path:
    return run.path.parent.parent


def _photos_root(run: artifacts.Run, data_dir: str | None) -> str:
    root = data_dir or run.manifest["dataset"]["root"]
    if not Path(root).is_dir():
        raise PipelineError(f"the run's photos are not at {root}; pass --data-dir")
    return root


def changed_photos(root: str, split) -> list[str]:
    """Validation photos whose content is not what the run recorded (or that are gone)."""
    if "sha256" not in split.columns:
        return []
    changed = []
    for path, digest in split[split.split == "val"][["path", "sha256"]].values:
        try:
            actual = file_sha256(Path(root) / path)
        except OSError:
            actual = None
        if actual != digest:
            changed.append(path)
    return changed


def evaluate_run(
    run: artifacts.Run,
    data_dir: str | None = None,
    log: Console | None = None,
    wait: bool = True,
    cluster=None,
) -> dict:
    """Re-score every model of a run on its recorded validation photos; returns name -> metrics.

    Refuses when a validation photo's content differs from what the run recorded:
    the scores would describe other photos than the run's.
    """
    log = log or Console()
    with plain_os_errors(_artifacts_dir(run)), WriterLock(_artifacts_dir(run), "evaluate", wait):
        return _evaluate(run, _photos_root(run, data_dir), log, cluster=cluster)


def _evaluate(run: artifacts.Run, root: str, log: Console, cluster) -> dict:
    """Every model's predictions from the photos: here, or photo batches on Ray's actors."""
    split = run.split()
    changed = changed_photos(root, split)
    if changed:
        shown = ", ".join(changed[:5]) + (" …" if len(changed) > 5 else "")
        raise PipelineError(
            f"{len(changed)} validation photo(s) under {root} differ from the ones run "
            f"{run.run_id} was scored on ({shown}); point --data-dir at the original photos"
        )
    val = [Sample(p, int(y)) for p, y in split[split.split == "val"][["path", "label"]].values]
    results = {}
    batch, engine = _run_config(run).inference_batch_size, _engine(run)
    for record in run.model_records():
        name = record["name"]
        model = saved_models.load(run.model_path(name))
        log(f"{name}: evaluating on {len(val):,} validation photos")
        progress = log.counter(f"{name}: photos scored", len(val))
        scored = None
        if cluster is not None:
            from pipeline.distributed import ray_photos  # Ray is optional: only when chosen

            scored = ray_photos.score(
                cluster,
                run.model_path(name),
                root,
                samples=val,
                inference_batch=batch,
                progress=progress,
                engine=engine,
            )
        scores = evaluate.evaluate_into(
            run.model_dir(name),
            model,
            root,
            samples=val,
            class_names=run.class_names,
            batch_size=batch,
            thumbs_dir=run.path / artifacts.THUMBS,
            scores=scored,
            progress=progress,
            engine=engine,
        )
        record["metrics"] = scores
        results[name] = scores
        log(f"{name}: val accuracy {scores['accuracy']:.2%}, AUC {scores['roc_auc']:.4f}")
    artifacts.write_json(run.path / artifacts.MANIFEST, run.manifest)
    analyze_unlocked(run, root, log, cluster=cluster)
    return results


def analyze_run(
    run: artifacts.Run,
    data_dir: str | None = None,
    log: Console | None = None,
    wait: bool = True,
    cluster=None,
    robustness: bool = False,
    resize_gap: bool = False,
) -> dict:
    """Store the run's comparison analysis, and Grad-CAM maps when its photos are at hand
    (computed on a Ray `cluster` when given); `robustness` adds accuracy under corruptions,
    `resize_gap` each model's answers on every validation photo resized TensorFlow's way."""
    log = log or Console()
    with plain_os_errors(_artifacts_dir(run)), WriterLock(_artifacts_dir(run), "analyze", wait):
        return analyze_unlocked(
            run, data_dir, log, cluster=cluster, robustness=robustness, resize_gap=resize_gap
        )


def analyze_unlocked(
    run: artifacts.Run,
    data_dir: str | None,
    log: Console,
    cluster=None,
    robustness: bool = False,
    resize_gap: bool = False,
) -> dict:
    """`analyze_run` for a caller that already holds the writer lock.

    Always: significance, calibration, curves, suspects, each model's latency timed with
    repeats, and near-duplicates when the run cached pooled features. With the photos at
    hand: Grad-CAM maps, and with
    `robustness`, accuracy under corruptions (`pipeline.evaluation.robustness`).
    """
    names = run.model_names()
    if not names:
        raise PipelineError(f"run {run.run_id} has no trained model to analyse")
    loaded = {n: saved_models.load(run.model_path(n)) for n in names}
    timings = latency.measure(
        loaded,
        progress=log.counter("latency: rounds", latency.ROUNDS),
        engine=_engine(run),
    )
    result = analysis.analyze(run, timings)
    for row in result["mcnemar"]:
        log("  " + row["verdict"])
    other = "the other class" if len(run.class_names) == 2 else "the same other class"
    log(
        f"  {result['suspects']['count']} photo(s) every model confidently puts in {other}: "
        f"{run.path / artifacts.SUSPECTS}"
    )
    root = data_dir or run.manifest["dataset"]["root"]
    _data_review(run, root if Path(root).is_dir() else None, log)
    if Path(root).is_dir():
        progress = log.counter("Grad-CAM: models done", len(names))
        count = analysis.explain_photos(
            run,
            root,
            analysis.photos_to_explain(run),
            models=loaded,
            explain=_ray_explainer(cluster, run, root),
            progress=progress,
        )
        log(f"  Grad-CAM maps stored for {count} photo(s) under {run.path / artifacts.GRADCAM}")
        if robustness:
            _robustness(run, root, loaded, log=log)
        if resize_gap:
            _resize_gap(run, root, loaded, log=log)
    else:
        log(
            f"  Grad-CAM maps and near-duplicates skipped: the photos are not at {root} "
            "(pass --data-dir)"
        )
    _say_resize_gaps(run, log)
    if run.manifest.get("schema_version", 1) >= 2:
        record_files(run)
    return result


def _data_review(run: artifacts.Run, root: str | None, log: Console) -> None:
    """Likely label errors among every photo, the map of the photos and, with the photos at
    hand, near-duplicates: all from the pooled features the run cached."""
    features = leak_report.run_features(run, _artifacts_dir(run) / artifacts.CACHE)
    if features is None:
        log(
            "  label errors, map and near-duplicates: not made, the run has no MobileNetV2 "
            "features (train with --models mobilenetv2_frozen to get them)"
        )
        return
    _label_errors(run, features, log)
    started = time.perf_counter()
    photo_map.record(run, features)
    log(
        f"  map of all {len(features):,} photos made in {time.perf_counter() - started:.0f}s: "
        f"{run.path / artifacts.PHOTO_MAP}"
    )
    if root is not None:
        _near_duplicates(run, features, root=root, log=log)


def _label_errors(run: artifacts.Run, features, log: Console) -> None:
    found = label_errors.review(run, features)
    if found is None:
        log("  label errors: not looked for, a class has fewer than two photos")
        return
    log(
        f"  {found['count']:,} likely label error(s) among all {found['photos']:,} photos "
        f"({found['in_training']:,} in training; out-of-fold accuracy "
        f"{found['out_of_fold_accuracy']:.2%}): {run.path / artifacts.LABEL_ISSUES}"
    )


def _near_duplicates(run: artifacts.Run, features, root: str, log: Console) -> None:
    progress = log.counter("near-duplicates: photos read", len(features))
    found = leak_report.review(run, features, root, progress=progress)
    leaks = found["leaks"]
    log(
        f"  near-duplicates: {leaks['count']:,} of {found['photos']['val']:,} validation "
        "photo(s) have a near-duplicate in training; "
        f"{found['within']['train']['groups']:,} group(s) within training, "
        f"{found['within']['val']['groups']:,} within validation"
    )
    if leaks["count"]:
        for name, scores in found["models"].items():
            clean = scores["without_leaks"]
            log(
                f"    {name}: {scores['all']['accuracy']:.2%} on every validation photo, "
                f"{clean['accuracy']:.2%} on the {clean['n']:,} without a leak"
            )


def _ray_explainer(cluster, run: artifacts.Run, root: str):
    """Grad-CAM on the Ray cluster's actors, or None to explain in this process."""
    if cluster is None:
        return None
    from pipeline.distributed import ray_photos  # Ray is optional: imported only when chosen

    return functools.partial(ray_photos.explain_run, cluster, run, root)


def _robustness(run: artifacts.Run, root: str, loaded: dict, log: Console) -> None:
    config = run.manifest.get("config", {})
    n = int(config.get("robustness_photos") or DEFAULT_PHOTOS)  # asked for: never none
    log(f"Robustness: {len(loaded)} model(s) x {len(conditions())} conditions on {n} photos")
    try:
        result = evaluate_robustness(
            run,
            root,
            loaded,
            n_photos=n,
            batch=_run_config(run).inference_batch_size,
            progress=log.counter("robustness: models done", len(loaded)),
            engine=_engine(run),
        )
    except ValueError as err:
        raise PipelineError(f"robustness analysis: {err}") from None
    log(f"  done in {result['seconds']:.0f}s: {run.path / artifacts.ROBUSTNESS}")


def _resize_gap(run: artifacts.Run, root: str, loaded: dict, log: Console) -> None:
    n = int((run.split().split == "val").sum())
    log(f"Resize gap: {len(loaded)} model(s) on all {n:,} validation photos")
    config = _run_config(run)
    progress = log.counter("resize gap: models done", len(loaded))
    result = resize_gap_all(
        run,
        root,
        loaded,
        batch=config.inference_batch_size,
        progress=progress,
        engine=_engine(run),
    )
    log(f"  done in {result['seconds']:.0f}s: {run.path / artifacts.RESIZE_GAP}")


def _say_resize_gaps(run: artifacts.Run, log: Console) -> None:
    every = run.resize_gap()
    if every:
        for name, gap in every["models"].items():
            log(
                f"  {name}: {gap['points']:+.2f} points with the loader's resize against "
                f"TensorFlow's default on all {gap['photos']:,} validation photos "
                f"({gap['changed']} answers differ, McNemar p = {gap['p_value']:.3g})"
            )
        return
    found = run.robustness()
    if not found:
        return
    for name, gap in resize_gaps(found).items():
        log(
            f"  {name}: {gap['points']:+.1f} points with the loader's resize against "
            f"TensorFlow's default (bilinear, no antialias); {gap['changed']} of "
            f"{gap['photos']} answers differ"
        )
