"""`python -m pipeline bench-ray`: photo throughput on Ray with 1 and 2 workers against
in-process, and a projection of the full study to more photos and more nodes.

The projection is arithmetic on measured costs, not a measurement: photo-level
work (decoding, MobileNetV2 extraction) divides over every worker of every
node at the measured per-worker rate and scaling; each model trains on one
node (no data-parallel training across hosts, see `pipeline.distributed.cluster`) at the
per-epoch cost measured in a full in-process run, the CNNs and the MobileNetV2
chain (frozen, then fine-tuned) side by side when there are nodes for them.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.config import default_data_dir, make_config
from pipeline.data.dataset import image_dataset, load_dataset
from pipeline.distributed import ray_photos
from pipeline.distributed.cluster import connect
from pipeline.environment import environment
from pipeline.modeling import features, models, train
from pipeline.modeling.weights import resolve_weights
from pipeline.store.runs import resolve_run

SCALES = (1, 10, 100)
NODE_COUNTS = (1, 4, 16)


@dataclass(frozen=True)
class Costs:
    """Measured costs of one study on one node."""

    photos: int  # train + validation photos of the measured study
    train_photos: int
    photo_passes: int  # photos through MobileNetV2 (training views + validation)
    decode_s: float  # seconds per photo, one worker
    extract_s: float  # seconds per photo pass, one worker
    workers_per_node: int
    scaling: float  # rate of all of a node's workers / (workers x one worker's rate)
    train_s: dict[str, float]  # seconds per training photo per epoch, per model
    epochs: dict[str, int]


def _photo_seconds(costs: Costs, scale: float, nodes: int) -> tuple[float, float]:
    workers = nodes * costs.workers_per_node * costs.scaling
    decode = scale * costs.photos * costs.decode_s / workers
    extract = scale * costs.photo_passes * costs.extract_s / workers
    return decode, extract


def _makespan(jobs: list[float], nodes: int) -> float:
    """Longest-first list scheduling of independent jobs on `nodes` machines."""
    loads = [0.0] * nodes
    for job in sorted(jobs, reverse=True):
        loads[loads.index(min(loads))] += job
    return max(loads)


def project(costs: Costs, scale: float, nodes: int) -> dict[str, float]:
    """Projected seconds of the study with `scale` x the photos on `nodes` nodes."""
    decode, extract = _photo_seconds(costs, scale, nodes)

    def training(model: str) -> float:
        per_epoch = costs.train_s.get(model, 0.0)  # a model the run lacks costs nothing
        return scale * costs.train_photos * per_epoch * costs.epochs.get(model, 0)

    chains = [training("cnn3"), training("cnn4")]
    chains.append(training("mobilenetv2_frozen") + training("mobilenetv2_finetuned"))
    train = _makespan(chains, nodes)
    return {"photo work": decode + extract, "training": train, "total": decode + extract + train}


def costs_from_run(run, decode_s: float, extract_s: float, workers: int, scaling: float) -> Costs:
    """Per-epoch training costs from a finished run's histories, photo costs as measured."""
    split = run.split()
    train_photos = int((split.split == "train").sum())
    photos = len(split)
    config = run.manifest["config"]
    train_s, epochs = {}, {}
    for name in run.model_names():
        history = run.history(name)
        phase = history[history.phase != "frozen"] if name.endswith("finetuned") else history
        if len(phase) and "seconds" in phase:
            train_s[name] = float(phase.seconds.mean()) / train_photos
            epochs[name] = len(phase)
    passes = train_photos * config.get("feature_views", 1) + (photos - train_photos)
    return Costs(
        photos,
        train_photos,
        passes,
        decode_s=decode_s,
        extract_s=extract_s,
        workers_per_node=workers,
        scaling=scaling,
        train_s=train_s,
        epochs=epochs,
    )


def timed_job(job, samples) -> dict[str, float]:
    """Wall seconds of a Ray photo job on an empty cache, and its workers' busy seconds.

    `job(samples, cache folder, busy)` appends each batch's compute seconds to `busy`:
    photos / busy seconds is one worker's rate once running, whatever the cost of
    starting the workers and loading their models (wall minus busy / workers).
    """
    busy: list[float] = []
    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        job(samples, Path(cache), busy)
        wall = time.perf_counter() - start
    return {"wall": wall, "busy": sum(busy), "per_worker": len(samples) / max(sum(busy), 1e-9)}


def _in_process_extraction(weights, samples, root, size: int, batch: int) -> float:

    model = models.build_mobilenetv2(size, weights)
    ext = features.extractor(model, train.cut_layer_name(model, 30))
    ext.predict_on_batch(np.zeros((batch, size, size, 3), np.float32))
    start = time.perf_counter()
    for x, _ in image_dataset(root, samples, (size, size), batch_size=batch):
        ext.predict_on_batch(x)
    return len(samples) / (time.perf_counter() - start)


def main(args) -> dict:

    run = resolve_run(Path(args.out_dir), args.run) if args.run else None  # fail before timing
    data_dir = args.data_dir or str(default_data_dir())
    config = make_config("quick", data_dir=data_dir, weights=args.weights)
    dataset = load_dataset(
        Path(data_dir), config.seed, 0.01, max_per_class=max(32, args.images // 2)
    )
    samples = dataset.train[: args.images]
    weights = resolve_weights(config.weights, config.mobilenet_input_size, config.imagenet_base_url)
    size, batch = config.mobilenet_input_size, config.inference_batch_size
    results: dict[str, float] = {}
    results["in-process extraction photos/s (2 threads)"] = _in_process_extraction(
        weights, samples, dataset.root, size=size, batch=batch
    )
    with connect("auto") as cluster:
        for workers in (1, 2):

            def decode(photos, cache, busy, workers=workers):
                ray_photos.fill_pixels(
                    cluster,
                    cache,
                    dataset.root,
                    samples=photos,
                    input_size=config.cnn_input_size,
                    progress=None,
                    workers=workers,
                    busy=busy,
                )

            def extract(photos, cache, busy, workers=workers):
                ray_photos.fill_features(
                    cluster,
                    cache,
                    dataset.root,
                    jobs=[(photos, "plain")],
                    weights=weights,
                    input_size=size,
                    finetune_layers=30,
                    inference_batch=batch,
                    progress=None,
                    workers=workers,
                    busy=busy,
                )

            for label, job in (("decode", decode), ("extraction", extract)):
                got = timed_job(job, samples)
                results[f"Ray {label}, {workers} worker(s): photos/s per worker"] = got[
                    "per_worker"
                ]
                results[f"Ray {label}, {workers} worker(s): photos/s all in"] = (
                    len(samples) / got["wall"]
                )
    env = environment()
    print(f"CPU: {env['cpu']} ({env['cpu_count']} cores; flags {' '.join(env['cpu_flags'])})")
    print(f"{len(samples)} photos at {size}px (extraction), {config.cnn_input_size}px (decoding)")
    width = max(len(k) for k in results)
    for key, value in results.items():
        print(f"{key:<{width}}  {value:8.1f}")
    if run is not None:
        _print_projection(run, results)
    return results


def _print_projection(run, results: dict[str, float]) -> None:
    one = results["Ray extraction, 1 worker(s): photos/s per worker"]
    two = results["Ray extraction, 2 worker(s): photos/s per worker"]
    costs = costs_from_run(
        run,
        decode_s=1 / results["Ray decode, 1 worker(s): photos/s per worker"],
        extract_s=1 / one,
        workers=2,
        scaling=min(1.0, two / one),  # each of two busy workers against one alone
    )
    print(
        f"\nPROJECTION (not a measurement) of run {run.run_id} ({costs.photos:,} photos): "
        "hours, nodes like this one"
    )
    print(f"{'photos':>12} " + " ".join(f"{n:>4} node(s)" for n in NODE_COUNTS))
    for scale in SCALES:
        row = [project(costs, scale, n)["total"] / 3600 for n in NODE_COUNTS]
        print(f"{scale * costs.photos:>12,} " + " ".join(f"{h:>12.2f}" for h in row))
