"""Cache what the frozen part of MobileNetV2 computes, so it runs once, not every epoch.

For the frozen phase that is the pooled 1280-d feature vector; for fine-tuning
it is the activation just below the unfrozen layers (5x5x160 at 160px). Both
come out of one pass over the images and live in memory-mapped .npy files,
so memory stays flat whatever the folder size.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from pipeline.dataset import Sample, image_dataset

FEATURES_VERSION = 1


@dataclass
class FeatureSet:
    """Features of one split: `pooled` (n, d), optional `cut` (n, h, w, c), `labels` (n, 1)."""

    pooled: np.ndarray
    cut: np.ndarray | None
    labels: np.ndarray


def cache_key(
    weights_sha: str | None,
    input_size: int,
    cut_layer: str | None,
    samples: list[Sample],
    views: int,
) -> str:
    blob = json.dumps(
        [
            FEATURES_VERSION,
            weights_sha,
            input_size,
            cut_layer,
            views,
            [[s.path, s.label] for s in samples],
        ]
    ).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def extractor(model: keras.Model, cut_layer: str | None) -> keras.Model:
    """A model from images to [pooled features] or [pooled features, cut activation]."""
    pooled = model.get_layer("head_pool").output
    if cut_layer is None:
        return keras.Model(model.input, [pooled])
    return keras.Model(model.input, [pooled, model.get_layer(cut_layer).input])


def _extract_into(
    files: dict,
    ext: keras.Model,
    root: str,
    samples: list[Sample],
    input_size: int,
    batch_size: int,
    mirror: bool,
    offset: int,
    progress,
) -> None:
    ds = image_dataset(root, samples, (input_size, input_size), batch_size, mirror=mirror)
    row = offset
    for images, labels in ds:
        outputs = ext.predict_on_batch(images)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        n = len(labels)
        files["pooled"][row : row + n] = outputs[0]
        if "cut" in files:
            files["cut"][row : row + n] = outputs[1]
        files["labels"][row : row + n] = labels.numpy()
        row += n
        if progress is not None:
            progress(n)


def load_or_extract(
    model: keras.Model,
    cache_dir: Path,
    key: str,
    root: str,
    samples: list[Sample],
    input_size: int,
    batch_size: int,
    cut_layer: str | None,
    views: int = 1,
    progress=None,
) -> FeatureSet:
    """Features for `samples` (x `views`: the second view is mirrored), cached under `key`."""
    folder = Path(cache_dir) / key
    if not (folder / "done").exists():
        ext = extractor(model, cut_layer)
        shapes = {"pooled": ext.outputs[0].shape[1:], "labels": (1,)}
        if cut_layer is not None:
            shapes["cut"] = ext.outputs[1].shape[1:]
        stage = folder.with_name(folder.name + ".partial")
        if stage.exists():
            shutil.rmtree(stage)
        stage.mkdir(parents=True)
        rows = len(samples) * views
        files = {
            name: np.lib.format.open_memmap(stage / f"{name}.npy", "w+", np.float32, (rows, *shape))
            for name, shape in shapes.items()
        }
        for view in range(views):
            _extract_into(
                files,
                ext,
                root,
                samples,
                input_size,
                batch_size,
                mirror=view == 1,
                offset=view * len(samples),
                progress=progress,
            )
        for array in files.values():
            array.flush()
        del files
        (stage / "done").write_text("ok\n")
        if folder.exists():
            shutil.rmtree(folder)
        stage.rename(folder)
    load = lambda name: np.load(folder / f"{name}.npy", mmap_mode="r")  # noqa: E731
    cut = load("cut") if (folder / "cut.npy").exists() else None
    return FeatureSet(load("pooled"), cut, load("labels"))


class ArrayBatches(keras.utils.PyDataset):
    """Shuffled batches from (memory-mapped) arrays, reshuffled every epoch."""

    def __init__(self, x: np.ndarray, y: np.ndarray, batch_size: int, seed: int | None = None):
        super().__init__()
        self.x, self.y, self.batch_size = x, y, batch_size
        self.rng = np.random.default_rng(seed) if seed is not None else None
        self.order = np.arange(len(x))
        self.on_epoch_end()

    def __len__(self) -> int:
        return (len(self.x) + self.batch_size - 1) // self.batch_size

    def __getitem__(self, index: int):
        rows = np.sort(self.order[index * self.batch_size : (index + 1) * self.batch_size])
        return np.asarray(self.x[rows]), np.asarray(self.y[rows])

    def on_epoch_end(self) -> None:
        if self.rng is not None:
            self.rng.shuffle(self.order)
