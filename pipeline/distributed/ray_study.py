"""A study's models trained as Ray tasks, with the photo-level work done by Ray Data.

The order on the cluster:

1. the CNNs' photos are decoded into the pixel cache (`ray_photos.fill_pixels`),
   then each CNN is submitted as a task;
2. while they train, MobileNetV2 features and activations are extracted into
   the feature caches (`ray_photos.fill_features`), then the frozen model is
   submitted;
3. the fine-tuned model is submitted when the frozen one is recorded.

A task trains exactly as in-process (the study hands over its `train_one`) on a worker capped to
its CPU share; it finds its inputs in the caches. A task whose worker dies is
run again (`cluster.TASK_RETRIES`) and resumes from its last epoch checkpoint.
The driver alone holds the writer lock and writes the manifest.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

from pipeline import devices
from pipeline.config import RunConfig
from pipeline.console import Console
from pipeline.data.dataset import Dataset
from pipeline.distributed import ray_photos
from pipeline.distributed.cluster import TASK_RETRIES, Cluster, remote_args, unwrap
from pipeline.modeling.forward import engine_for
from pipeline.registry import spec
from pipeline.store import artifacts

Recorder = Callable[[str, dict, list[str]], None]


TrainOne = Callable[..., tuple[dict, list[str]]]


def _train_task(
    train_one: TrainOne,
    name: str,
    config: RunConfig,
    dataset: Dataset,
    weights,
    run_dir: str,
    record,
):
    """Runs on a worker: train, save, score and publish one model (as in-process)."""
    devices.apply_thread_cap()
    return train_one(
        name, config, dataset, weights=weights, run_dir=Path(run_dir), record=record, log=Console()
    )


def _submit(cluster: Cluster, train_one: TrainOne, name: str, **task_args):
    import ray

    task = ray.remote(_train_task).options(
        name=f"train {name}",
        max_retries=TASK_RETRIES,
        retry_exceptions=False,
        **remote_args(cluster.node_cpus, cluster.node_gpus),
    )
    return task.remote(train_one, name, **task_args)


def _prefill_pixels(cluster, config, dataset, cache_root: Path, log: Console) -> None:
    """The CNNs' pixel caches: every photo, and the training photos' TensorFlow-resized view
    when the CNNs train on a mix (`RunConfig.cnn_resize_mix`)."""
    views = [("pillow", dataset.train + dataset.val)]
    if config.cnn_resize_mix > 0:
        views.append(("tensorflow", dataset.train))
    for resize, photos in views:
        what = "" if resize == "pillow" else " (resized the TensorFlow way)"
        log(f"Ray: decoding photos at {config.cnn_input_size}px into the pixel cache{what}")
        done = ray_photos.fill_pixels(
            cluster,
            cache_root,
            dataset.root,
            samples=photos,
            input_size=config.cnn_input_size,
            progress=log.counter("photos decoded on the cluster", len(photos)),
            resize=resize,
        )
        log(f"  {done:,} photo(s) decoded, {len(photos) - done:,} already in the cache")


def _prefill_features(cluster, config, dataset, weights, with_cut: bool, cache_root, log) -> None:
    jobs = [(dataset.train, "plain"), (dataset.val, "plain")]
    if config.feature_views == 2:
        jobs.insert(1, (dataset.train, "mirrored"))
    needed = sum(len(samples) for samples, _ in jobs)
    log(f"Ray: MobileNetV2 features at {config.mobilenet_input_size}px into the feature cache")
    done = ray_photos.fill_features(
        cluster,
        cache_root,
        dataset.root,
        jobs=jobs,
        weights=weights,
        input_size=config.mobilenet_input_size,
        finetune_layers=config.finetune_layers if with_cut else None,
        inference_batch=config.inference_batch_size,
        progress=log.counter("photos through MobileNetV2 on the cluster", needed),
        engine=engine_for(config.inference, cache_dir=cache_root),
    )
    log(f"  {done:,} photo pass(es) computed, {needed - done:,} from the cache")


def train_models(
    cluster: Cluster,
    *,
    config: RunConfig,
    dataset: Dataset,
    weights,
    run_dir: Path,
    record: dict,
    todo: list[str],
    log: Console,
    on_trained: Recorder,
    train_one: TrainOne,
) -> None:
    """Train the models `todo` (registry names, planned order) on the cluster, each task
    calling `train_one` (the study's one-model step); each result goes to
    `on_trained(name, model record, caches)` as it arrives once the photo work has been
    done (models finished during the extraction are recorded right after it).

    When anything fails, every model that has finished is recorded first, so a rerun
    keeps it; a failure of Ray itself becomes a plain PipelineError.
    """
    import ray

    pending: dict = {}
    waiting = [m for m in todo if spec(m).needs in todo]

    def submit(name: str) -> None:
        log(f"{name}: training on the cluster")
        pending[
            _submit(
                cluster,
                train_one,
                name,
                config=config,
                dataset=dataset,
                weights=weights,
                run_dir=str(run_dir),
                record=dict(record),
            )
        ] = name

    def take(ref) -> None:
        name = pending.pop(ref)
        on_trained(name, *ray.get(ref))
        for follower in [m for m in waiting if spec(m).needs == name]:
            waiting.remove(follower)
            submit(follower)

    try:
        _photo_work_and_submit(
            cluster,
            config,
            dataset,
            weights=weights,
            record=record,
            todo=todo,
            waiting=waiting,
            log=log,
            submit=submit,
        )
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            take(done[0])
    except BaseException as err:
        _record_finished(pending, take)
        for ref in pending:
            ray.cancel(ref, force=True)
        if isinstance(err, ray.exceptions.RayError):
            raise unwrap(err) from None
        raise


def _record_finished(pending: dict, take) -> None:
    """Record every task that has finished well, so nothing trained is lost."""
    import ray

    if not pending:
        return
    ready, _ = ray.wait(list(pending), num_returns=len(pending), timeout=0)
    for ref in ready:
        with contextlib.suppress(ray.exceptions.RayError):
            take(ref)


def _photo_work_and_submit(cluster, config, dataset, weights, record, todo, waiting, log, submit):
    """Fill the caches on the cluster and submit each model once its inputs are there."""
    cache_root = Path(config.out_dir) / artifacts.CACHE
    cnns = [m for m in todo if spec(m).trainer == "cnn"]
    if cnns:
        _prefill_pixels(cluster, config, dataset, cache_root=cache_root, log=log)
        for name in cnns:
            submit(name)
    frozen = [m for m in todo if spec(m).trainer == "frozen"]
    if frozen and config.frozen_mode == "features":
        hub = getattr(weights, "kind", None) == "hub"
        with_cut = not hub and any(spec(m).needs == frozen[0] for m in record["planned_models"])
        _prefill_features(
            cluster,
            config,
            dataset,
            weights=weights,
            with_cut=with_cut,
            cache_root=cache_root,
            log=log,
        )
    for name in todo:
        if name not in cnns and name not in waiting:
            submit(name)
