"""Cache what does not change between epochs, so it is computed once per photo.

For the small CNNs that is the decoded, resized photos (uint8). For the frozen
MobileNetV2 phase it is the pooled 1280-d feature vector; for fine-tuning, the
activation just below the unfrozen layers (7x7x160 at 224px). Both come out of
one pass over the photos. Every row is keyed by the photo's content hash and
by what produced it (`pipeline.store.cache`), and read back memory-mapped, so memory
stays flat whatever the folder size.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np

from pipeline import faults
from pipeline.data.dataset import Sample, image_dataset
from pipeline.data.fingerprint import preprocessing_identity
from pipeline.data.images import loader_identity
from pipeline.devices import dataset_options, prefetch_depth
from pipeline.modeling.engine import Engine
from pipeline.modeling.forward import Forward
from pipeline.store.cache import RowView, ShardStore, gather

# Bump when the extraction itself changes (what is cut, how views are made).
FEATURES_VERSION = 2


@dataclass
class FeatureSet:
    """Features of one split: `pooled` (n, d), optional `cut` (n, h, w, c), `labels` (n, 1)."""

    pooled: RowView
    cut: RowView | None
    labels: np.ndarray
    stores: list[str] = field(default_factory=list)


def labels_of(samples: list[Sample], views: int = 1) -> np.ndarray:
    return np.array([[s.label] for s in samples] * views, dtype=np.float32)


def _require_hashes(samples: list[Sample]) -> None:
    if any(not s.sha256 for s in samples):
        raise ValueError("caching needs each sample's content hash (see dataset.hash_samples)")


def _unique(samples: list[Sample], hashes: set[str]) -> list[Sample]:
    """One sample per wanted content hash, in order."""
    _require_hashes(samples)
    chosen: dict[str, Sample] = {}
    for sample in samples:
        if sample.sha256 in hashes and sample.sha256 not in chosen:
            chosen[sample.sha256] = sample
    return list(chosen.values())


def extractor(model: keras.Model, cut_layer: str | None) -> keras.Model:
    """A model from images to [pooled features] or [pooled features, cut activation]."""
    pooled = model.get_layer("head_pool").output
    if cut_layer is None:
        return keras.Model(model.input, [pooled])
    return keras.Model(model.input, [pooled, model.get_layer(cut_layer).input])


def feature_stores(
    cache_root: Path,
    ext: keras.Model,
    weights_sha: str | None,
    input_size: int,
    cut_layer: str | None,
    view: str,
) -> dict[str, ShardStore]:
    """The stores of pooled features (and cut activations) of one view of the photos."""

    base = {
        "extractor": FEATURES_VERSION,
        "weights_sha256": weights_sha,
        "input_size": input_size,
        "view": view,
        **preprocessing_identity(),
    }
    stores = {
        "pooled": ShardStore(
            cache_root,
            "pooled",
            base,
            specs={"pooled": (tuple(ext.outputs[0].shape[1:]), np.float32)},
        )
    }
    if cut_layer is not None:
        stores["cut"] = ShardStore(
            cache_root,
            "cut",
            base | {"cut_layer": cut_layer},
            specs={"cut": (tuple(ext.outputs[1].shape[1:]), np.float32)},
        )
    return stores


def _extract_missing(
    ext: keras.Model,
    stores: dict[str, ShardStore],
    root: str,
    samples: list[Sample],
    input_size: int,
    batch_size: int,
    mirror: bool,
    progress,
    engine: Engine | None = None,
) -> None:
    need = {name: set(store.missing(s.sha256 for s in samples)) for name, store in stores.items()}
    todo = _unique(samples, set().union(*need.values()))
    if not todo:
        return
    forward = Forward(ext, engine=engine)
    writers = {name: store.writer() for name, store in stores.items()}
    ds = image_dataset(root, todo, (input_size, input_size), batch_size=batch_size, mirror=mirror)
    row = 0
    for images, _ in ds:
        outputs = dict(zip(stores, forward(np.asarray(images)), strict=True))
        keys = [s.sha256 for s in todo[row : row + len(images)]]
        for name, writer in writers.items():
            keep = [i for i, key in enumerate(keys) if key in need[name]]
            if keep:
                writer.add([keys[i] for i in keep], **{name: np.asarray(outputs[name])[keep]})
        row += len(images)
        faults.point("features")
        if progress is not None:
            progress(len(images))
    for writer in writers.values():
        writer.flush()


def load_or_extract(
    model: keras.Model,
    cache_root: Path,
    weights_sha: str | None,
    root: str,
    samples: list[Sample],
    input_size: int,
    batch_size: int,
    cut_layer: str | None,
    views: int = 1,
    progress=None,
    engine: Engine | None = None,
) -> FeatureSet:
    """Features for `samples` (x `views`: the second view is mirrored), computed only for
    photos the cache does not hold yet, on `engine` (TensorFlow when None)."""
    ext = extractor(model, cut_layer)
    parts: dict[str, list] = {"pooled": [], "cut": []}
    names = []
    for view in range(views):
        mirror = view == 1
        stores = feature_stores(
            cache_root,
            ext,
            weights_sha,
            input_size=input_size,
            cut_layer=cut_layer,
            view="mirrored" if mirror else "plain",
        )
        _extract_missing(
            ext,
            stores,
            root,
            samples=samples,
            input_size=input_size,
            batch_size=batch_size,
            mirror=mirror,
            progress=progress,
            engine=engine,
        )
        for name, store in stores.items():
            parts[name].append((store, [s.sha256 for s in samples]))
            names.append(store.name)
    cut = gather(parts["cut"], "cut") if cut_layer is not None else None
    return FeatureSet(
        gather(parts["pooled"], "pooled"), cut, labels_of(samples, views), stores=names
    )


def pixel_store(cache_root: Path, input_size: int, resize: str = "pillow") -> ShardStore:
    """Decoded photos at `input_size`: the loader's pixels, or with `resize="tensorflow"`
    the same photos resized the TensorFlow way (which also depends on TF's version)."""
    producer = {"input_size": input_size, **loader_identity()}
    if resize != "pillow":
        import tensorflow as tf

        producer |= {"resize": resize, "tensorflow": tf.__version__}
    return ShardStore(
        cache_root, "pixels", producer, specs={"image": ((input_size, input_size, 3), np.uint8)}
    )


def load_or_decode(
    cache_root: Path,
    root: str,
    samples: list[Sample],
    input_size: int,
    batch_size: int,
    progress=None,
    resize: str = "pillow",
) -> tuple[RowView, np.ndarray]:
    """(uint8 images, float32 labels) of `samples` at `input_size`; only photos the cache
    does not hold yet are decoded.

    The pixels are exactly what `load_model_input` gives, so a model trained on
    them sees what it sees at evaluation and on a live upload. Both small CNNs
    share one cache, and no epoch decodes a JPEG again. `resize="tensorflow"` gives
    the second training view (`dataset.image_dataset`).
    """
    store = pixel_store(cache_root, input_size, resize)
    todo = _unique(samples, set(store.missing(s.sha256 for s in samples)))
    if todo:
        writer = store.writer()
        shape = (input_size, input_size)
        row = 0
        pixels = image_dataset(
            root, todo, shape, batch_size=batch_size, as_float=False, resize=resize
        )
        for images, _ in pixels:
            keys = [s.sha256 for s in todo[row : row + len(images)]]
            writer.add(keys, image=images.numpy())
            row += len(images)
            faults.point("pixels")
            if progress is not None:
                progress(len(images))
        writer.flush()
    return gather([(store, [s.sha256 for s in samples])], "image"), labels_of(samples)


def array_dataset(
    x: np.ndarray,
    y: np.ndarray,
    batch_size: int,
    seed: int | None = None,
    flip: bool = False,
    full_batches: bool = False,
    other_view: np.ndarray | None = None,
    other_share: float = 0.0,
):
    """A tf.data stream of float32 batches from (memory-mapped) arrays.

    With a `seed`, rows are reshuffled every epoch; with `flip`, each image is
    mirrored left-right with probability 1/2. With `other_view` (the same photos,
    row for row, made another way), each image is drawn from it with probability
    `other_share`, afresh every epoch. Rows are gathered from the arrays a batch at
    a time, so memory stays flat. Measured on 2 cores: a Keras PyDataset (or any
    Python generator) over the same arrays trained the 3-conv CNN at 221 images/s,
    this at 472, the same as arrays held in memory.
    """
    import tensorflow as tf

    mixing = other_view is not None and other_share > 0
    if (flip or mixing) and seed is None:
        raise ValueError("random flips or views need a seed")
    if other_view is not None and len(other_view) != len(x):
        raise ValueError("other_view must hold the same photos as x, row for row")
    n = len(x)

    def take(rows, from_other):
        order = np.argsort(rows)
        rows, from_other = rows[order], from_other[order]
        images = np.array(x[rows])
        if from_other.any():
            images[from_other] = np.asarray(other_view[rows[from_other]])
        return images, np.asarray(y[rows], dtype=np.float32)

    def load(rows, seeds):
        share = other_share if mixing else 0.0
        from_other = tf.random.stateless_uniform(tf.shape(rows), seeds) < share
        images, labels = tf.numpy_function(
            take, [rows, from_other], (tf.as_dtype(x.dtype), tf.float32)
        )
        images.set_shape((None, *x.shape[1:]))
        labels.set_shape((None, *y.shape[1:]))
        images = tf.cast(images, tf.float32)
        if flip:
            coin = tf.random.stateless_uniform((tf.shape(images)[0], 1, 1, 1), seeds + 1)
            images = tf.where(coin < 0.5, tf.reverse(images, axis=[2]), images)
        return images, labels

    rows = tf.data.Dataset.range(n)
    if seed is not None:
        rows = rows.shuffle(n, seed=seed, reshuffle_each_iteration=True)
        draws = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
    else:
        draws = tf.data.Dataset.from_tensors(tf.zeros(2, tf.int64)).repeat()
    ds = tf.data.Dataset.zip((rows.batch(batch_size), draws)).map(load)
    if full_batches:
        ds = ds.filter(lambda images, labels: tf.shape(images)[0] == batch_size)
    return ds.prefetch(prefetch_depth()).with_options(dataset_options())


def recorded_pooled(
    cache_root: Path, store_names: list[str], hashes: list[str]
) -> np.ndarray | None:
    """The pooled features (plain view) of `hashes` from the stores a run recorded, one row
    per hash; None when the run cached none (it trained no MobileNetV2 on cached features)
    or the cache no longer holds every row (`cache --prune` of a run's store)."""
    for name in store_names:
        folder = Path(cache_root) / name
        producer_file = folder / "producer.json"
        if not name.startswith("pooled-") or not producer_file.is_file():
            continue
        producer = json.loads(producer_file.read_text())
        if producer.pop("kind", None) != "pooled" or producer.get("view") != "plain":
            continue
        store = ShardStore(cache_root, "pooled", producer, specs={"pooled": ((), np.float32)})
        if store.name != name or store.missing(hashes):
            continue
        return np.asarray(gather([(store, list(hashes))], "pooled"), dtype=np.float32)
    return None
