"""Photo-level work as Ray Data batch inference: decoding into the pixel cache,
MobileNetV2 feature and activation extraction, scoring saved models, Grad-CAM.

Each job is `map_batches` over the photos with a pool of actors; an actor loads
its model once and writes its rows into the same content-keyed cache stores
the in-process path uses (`pipeline.store.cache`), one shard per batch. A killed
actor is restarted by Ray Data and its batch run again; a batch whose shard
was already written is simply written twice (the rows are identical). So
after any interruption the next run computes only the photos still missing.

Only photos the cache does not hold are sent to the cluster.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from pipeline import devices
from pipeline.data.dataset import Sample
from pipeline.data.images import (
    load_model_input,
    load_resized_like_tensorflow,
    load_rgb,
    resize_for_model,
)
from pipeline.devices import apply_thread_cap
from pipeline.distributed.cluster import Cluster, remote_args
from pipeline.errors import PipelineError
from pipeline.evaluation import gradcam
from pipeline.modeling import features, models, saved_models, train
from pipeline.modeling.engine import Engine
from pipeline.modeling.features import pixel_store
from pipeline.modeling.forward import Forward
from pipeline.modeling.predict import Scorer as ModelScorer

# Photos per map_batches batch (one cache shard each). Large enough that an
# actor call is dominated by the model, small enough to spread over workers.
PHOTOS_PER_BATCH = 64
GRADCAM_PER_BATCH = 8


def _pool(cluster: Cluster, workers: int | None, model: bool) -> tuple[int, dict]:
    """How many actors at most (`workers` caps it), and what each asks for: one GPU each
    when a model runs in it and there are GPUs, else one CPU each."""
    if model and cluster.gpus:
        most, args = cluster.gpus, remote_args(1, gpus=1)
    else:
        most, args = cluster.cpus, remote_args(1)
    return max(1, min(most, workers or most)), args


def _map_photos(
    cluster: Cluster,
    rows: list[dict],
    actor: type,
    kwargs: dict,
    per_batch: int,
    progress: Callable[[int], None] | None,
    workers: int | None = None,
) -> Iterator[dict]:
    """Run `actor` over `rows` on the cluster; yields its output batches as they finish."""
    import ray.data

    if not rows:
        return
    most, args = _pool(cluster, workers, model=actor is not PixelWriter)
    blocks = max(1, math.ceil(len(rows) / per_batch))
    ds = ray.data.from_items(rows, override_num_blocks=min(blocks, 200))
    ds = ds.map_batches(
        actor,
        fn_constructor_kwargs=kwargs,
        batch_size=per_batch,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(min_size=1, max_size=min(most, blocks)),
        **args,
    )
    try:
        for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
            if progress is not None:
                progress(len(batch["done"]))
            yield batch
    except ray.exceptions.RayError as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[-1]
        raise PipelineError(
            f"{actor.__name__} on the Ray cluster failed: {first}. Photos finished so far "
            "are cached; run the same command again to resume"
        ) from None


def _done(n: int, start: float) -> dict:
    """An actor's answer for a batch of `n` photos: one row each, with its share of the
    batch's compute seconds (what `bench-ray` sums into a per-worker rate)."""
    seconds = (time.perf_counter() - start) / max(n, 1)
    return {"done": np.ones(n, np.int8), "seconds": np.full(n, seconds)}


def _located(root: str, path: str) -> str:
    """An absolute path: workers on other nodes do not share this process's directory."""
    return os.path.abspath(os.path.join(root, path))


def _rows(root: str, samples: list[Sample], missing: set[str]) -> list[dict]:
    """One row per wanted content hash (a photo present twice is computed once)."""
    rows: dict[str, dict] = {}
    for sample in samples:
        if sample.sha256 in missing and sample.sha256 not in rows:
            rows[sample.sha256] = {"sha256": sample.sha256, "path": _located(root, sample.path)}
    return list(rows.values())


def _count(batches, busy: list[float] | None) -> int:
    done = 0
    for batch in batches:
        done += len(batch["done"])
        if busy is not None:
            busy.append(float(batch["seconds"].sum()))
    return done


# --- decoded pixels (the small CNNs' cache) -----------------------------------------


class PixelWriter:
    """Decodes photos with the shared loader into the pixel cache (or, with
    `resize="tensorflow"`, into the cache of the view resized the TensorFlow way)."""

    def __init__(self, cache_root: str, input_size: int, resize: str = "pillow"):

        apply_thread_cap()
        self.store = pixel_store(Path(cache_root), input_size, resize)
        self.size, self.resize = (input_size, input_size), resize

    def _pixels(self, path: str) -> np.ndarray:

        if self.resize == "tensorflow":
            return load_resized_like_tensorflow(path, self.size)
        return load_model_input(path, self.size)

    def __call__(self, batch: dict) -> dict:
        start = time.perf_counter()
        images = np.stack([self._pixels(str(p)) for p in batch["path"]])
        writer = self.store.writer()
        writer.add([str(k) for k in batch["sha256"]], image=images)
        writer.flush()
        return _done(len(images), start)


def fill_pixels(
    cluster: Cluster,
    cache_root: Path,
    root: str,
    samples: list[Sample],
    input_size: int,
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
    busy: list[float] | None = None,
    resize: str = "pillow",
) -> int:
    """Decode into the pixel cache (of `resize`'s view) every photo it lacks; returns how
    many were decoded.

    `busy`, when given, receives each batch's compute seconds on its worker."""

    store = pixel_store(cache_root, input_size, resize)
    rows = _rows(root, samples, set(store.missing(s.sha256 for s in samples)))
    kwargs = {"cache_root": os.path.abspath(cache_root), "input_size": input_size}
    kwargs["resize"] = resize
    batches = _map_photos(
        cluster,
        rows,
        PixelWriter,
        kwargs=kwargs,
        per_batch=PHOTOS_PER_BATCH,
        progress=progress,
        workers=workers,
    )
    return _count(batches, busy)


# --- MobileNetV2 pooled features and cut activations --------------------------------


class FeatureWriter:
    """Runs photos (one view) through the frozen MobileNetV2 into the feature stores."""

    def __init__(
        self,
        cache_root: str,
        weights,
        input_size: int,
        finetune_layers: int | None,
        view: str,
        batch: int,
        engine: Engine | None = None,
    ):

        devices.apply_thread_cap()
        model = models.build_mobilenetv2(input_size, weights)
        cut = train.cut_layer_name(model, finetune_layers) if finetune_layers else None
        self.ext = features.extractor(model, cut)
        self.forward = Forward(self.ext, engine=engine)
        self.stores = features.feature_stores(
            Path(cache_root),
            self.ext,
            weights.sha256,
            input_size=input_size,
            cut_layer=cut,
            view=view,
        )
        self.size, self.mirror = (input_size, input_size), view == "mirrored"
        self.batch = batch

    def __call__(self, batch: dict) -> dict:

        start = time.perf_counter()
        images = np.stack([load_model_input(str(p), self.size) for p in batch["path"]])
        if self.mirror:
            images = images[:, :, ::-1, :]
        images = images.astype(np.float32)
        outputs: dict[str, list] = {name: [] for name in self.stores}
        for first in range(0, len(images), self.batch):
            out = self.forward(images[first : first + self.batch])
            for name, value in zip(self.stores, out, strict=True):
                outputs[name].append(np.asarray(value))
        keys = [str(k) for k in batch["sha256"]]
        for name, store in self.stores.items():
            writer = store.writer()
            writer.add(keys, **{name: np.concatenate(outputs[name])})
            writer.flush()
        return _done(len(images), start)


def fill_features(
    cluster: Cluster,
    cache_root: Path,
    root: str,
    jobs: list[tuple[list[Sample], str]],
    weights,
    input_size: int,
    finetune_layers: int | None,
    inference_batch: int,
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
    busy: list[float] | None = None,
    engine: Engine | None = None,
) -> int:
    """Extract every (samples, view) of `jobs` the feature stores lack; returns how many
    photo passes were computed. `finetune_layers` also caches the cut activations;
    `busy` receives each batch's compute seconds on its worker."""
    import keras

    model = models.build_mobilenetv2(input_size, weights)
    cut = train.cut_layer_name(model, finetune_layers) if finetune_layers else None
    ext = features.extractor(model, cut)
    keras.backend.clear_session()  # the driver needed only the stores' names and shapes
    done = 0
    for samples, view in jobs:
        stores = features.feature_stores(
            cache_root, ext, weights.sha256, input_size=input_size, cut_layer=cut, view=view
        )
        missing = set().union(*(set(s.missing(x.sha256 for x in samples)) for s in stores.values()))
        rows = _rows(root, samples, missing)
        kwargs = {
            "cache_root": os.path.abspath(cache_root),
            "weights": weights,
            "input_size": input_size,
            "finetune_layers": finetune_layers,
            "view": view,
            "batch": inference_batch,
            "engine": engine,
        }
        batches = _map_photos(
            cluster,
            rows,
            FeatureWriter,
            kwargs=kwargs,
            per_batch=PHOTOS_PER_BATCH,
            progress=progress,
            workers=workers,
        )
        done += _count(batches, busy)
    return done


# --- scoring a saved model ------------------------------------------------------------


class Scorer:
    """(probabilities, logits) of photos through a saved model, loaded once per actor."""

    def __init__(self, model_path: str, batch: int, engine: Engine | None = None):

        apply_thread_cap()
        self.model = saved_models.load(model_path)
        self.size = tuple(self.model.input_shape[1:3])
        self.batch = batch
        self.scorer = ModelScorer(self.model, engine=engine)

    def __call__(self, batch: dict) -> dict:

        images = np.stack([load_model_input(str(p), self.size) for p in batch["path"]])
        images = images.astype(np.float32)
        chunks = (images[i : i + self.batch] for i in range(0, len(images), self.batch))
        p, logit = self.scorer.score(chunks)
        return {"row": batch["row"], "p": p, "logit": logit, "done": np.ones(len(p), np.int8)}


def score(
    cluster: Cluster,
    model_path: Path,
    root: str,
    samples: list[Sample],
    inference_batch: int,
    progress: Callable[[int], None] | None = None,
    engine: Engine | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities, logits) of each sample, in order, scored on the cluster: (n,) each for a
    two-class model, (n, N) for an N-class one (`pipeline.modeling.predict`)."""
    rows = [{"row": i, "path": _located(root, s.path)} for i, s in enumerate(samples)]
    kwargs = {
        "model_path": os.path.abspath(model_path),
        "batch": inference_batch,
        "engine": engine,
    }
    p = logit = np.zeros(0, np.float32)
    for batch in _map_photos(
        cluster, rows, Scorer, kwargs=kwargs, per_batch=PHOTOS_PER_BATCH, progress=progress
    ):
        if len(p) == 0:  # the first answers give the head's width
            shape = (len(rows), *np.shape(batch["p"])[1:])
            p, logit = np.zeros(shape, np.float32), np.zeros(shape, np.float32)
        p[batch["row"]] = batch["p"]
        logit[batch["row"]] = batch["logit"]
    return p, logit


# --- Grad-CAM ---------------------------------------------------------------------


class Explainer:
    """A saved model's input pixels and Grad-CAM maps for photos (`gradcam.explain_maps`:
    both classes for a two-class model, the predicted and the true class for an N-class one;
    a batch's `label` column holds the true labels, -1 where unknown)."""

    def __init__(self, model_path: str):

        apply_thread_cap()
        self.model = saved_models.load(model_path)
        self.size = tuple(self.model.input_shape[1:3])

    def __call__(self, batch: dict) -> dict:

        paths = [str(p) for p in batch["path"]]
        images = np.stack([resize_for_model(load_rgb(p).image, self.size) for p in paths])
        out = {"row": batch["row"], "image": images, "done": np.ones(len(images), np.int8)}
        if not gradcam.explainable(self.model):
            return out
        labels = np.asarray(batch.get("label", np.full(len(paths), -1)), int)
        maps = gradcam.explain_maps(self.model, images.astype(np.float32), labels)
        return out | {
            f"map_{kind}": value if kind == gradcam.CLASSES else value.astype(np.float16)
            for kind, value in maps.items()
        }


def explain(
    cluster: Cluster,
    model_paths: dict[str, Path],
    photos: dict[str, str],
    progress: Callable[[int], None] | None = None,
    *,
    labels: dict[str, int] | None = None,
) -> dict[str, dict[str, dict[str, np.ndarray]]]:
    """model -> path -> {"image", map kinds...} for readable `photos` (relative path ->
    absolute path): "positive", "negative" for a two-class model; "predicted", "true",
    "classes" for an N-class one, whose true classes are `labels` (relative path -> label).
    The models' jobs run side by side. A model Grad-CAM cannot explain gives only "image"."""
    from concurrent.futures import ThreadPoolExecutor

    paths = list(photos)
    labels = labels or {}
    rows = [
        {"row": i, "path": photos[p], "label": int(labels.get(p, -1))} for i, p in enumerate(paths)
    ]

    def one(model_path: Path) -> dict[str, dict[str, np.ndarray]]:
        result: dict[str, dict[str, np.ndarray]] = {}
        kwargs = {"model_path": os.path.abspath(model_path)}
        for batch in _map_photos(
            cluster, rows, Explainer, kwargs=kwargs, per_batch=GRADCAM_PER_BATCH, progress=None
        ):
            for j, row in enumerate(batch["row"]):
                named = {"image": batch["image"][j]}
                named |= {k[4:]: batch[k][j] for k in batch if k.startswith("map_")}
                result[paths[int(row)]] = named
        if progress is not None:
            progress(1)
        return result

    with ThreadPoolExecutor(max_workers=max(1, len(model_paths))) as pool:
        futures = {name: pool.submit(one, path) for name, path in model_paths.items()}
        return {name: future.result() for name, future in futures.items()}


def explain_run(
    cluster: Cluster, run, root: str, paths: list[str], progress=None
) -> dict[str, dict[str, np.ndarray]]:
    """`explain` for every model of `run`, with the photos' true labels from the run, keyed
    as `analysis.explain_photos` stores them: path -> {"<model>__image" | "<model>__<kind>":
    array}."""
    from pipeline.evaluation.analysis import photo_labels

    arrays: dict[str, dict[str, np.ndarray]] = {p: {} for p in paths}
    located = {p: os.path.abspath(Path(root) / p) for p in paths}
    models = {name: run.model_path(name) for name in run.model_names()}
    labels = photo_labels(run, paths)
    for name, maps in explain(cluster, models, located, progress=progress, labels=labels).items():
        for path, named in maps.items():
            if len(named) > 1:  # models Grad-CAM cannot explain give no maps, only "image"
                arrays[path] |= {f"{name}__{kind}": value for kind, value in named.items()}
    return arrays
