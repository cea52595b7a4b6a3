"""Find, check and split the photos; stream them to Keras with tf.data.

The split depends only on each file's relative path and the seed, so a file
never changes side when the folder grows, and no file is on both sides.
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from pipeline.errors import PipelineError
from pipeline.images import ImageError, load_model_input, load_rgb

SCAN_CACHE_VERSION = 1


@dataclass(frozen=True)
class Sample:
    path: str  # relative to the data folder, with forward slashes
    label: int


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


@dataclass
class Dataset:
    root: str
    class_names: list[str]
    train: list[Sample]
    val: list[Sample]
    skipped: list[Skipped]
    converted: dict[str, str]  # path -> what was converted
    excluded: list[str]
    found: int

    def counts(self) -> dict:
        def per_class(samples: list[Sample]) -> dict[str, int]:
            labels = np.bincount([s.label for s in samples], minlength=len(self.class_names))
            return {name: int(n) for name, n in zip(self.class_names, labels, strict=True)}

        return {
            "found": self.found,
            "usable": len(self.train) + len(self.val),
            "skipped": len(self.skipped),
            "converted": len(self.converted),
            "excluded": len(self.excluded),
            "train": per_class(self.train),
            "val": per_class(self.val),
        }


def _unit_hash(salt: str, seed: int, path: str) -> float:
    digest = hashlib.sha256(f"{salt}:{seed}:{path}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def is_validation(path: str, seed: int, fraction: float) -> bool:
    """Deterministic per-file split: the same file always lands on the same side."""
    return _unit_hash("split", seed, path) < fraction


def find_classes(root: Path) -> list[str]:
    if not root.is_dir():
        raise PipelineError(
            f"data folder {root} does not exist. Point --data-dir at a folder with one "
            "sub-folder per class (e.g. Cat/ and Dog/), or run `python -m pipeline fetch-data`."
        )
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(classes) != 2:
        found = ", ".join(classes) or "none"
        raise PipelineError(
            f"{root} must hold exactly two class folders (e.g. Cat/ and Dog/); found: {found}"
        )
    return classes


def list_files(root: Path, class_names: list[str]) -> list[Sample]:
    samples = []
    for label, name in enumerate(class_names):
        for dirpath, dirnames, filenames in os.walk(root / name):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for filename in sorted(filenames):
                rel = Path(dirpath, filename).relative_to(root).as_posix()
                samples.append(Sample(rel, label))
    return samples


def inspect_file(path: Path) -> str | None:
    """None if the file is usable as is, else 'skip: why' or 'convert: what'."""
    try:
        loaded = load_rgb(path)
    except ImageError as err:
        return f"skip: {err}"
    except OSError as err:
        return f"skip: unreadable ({err.strerror or err})"
    if loaded.notes:
        return "convert: " + "; ".join(loaded.notes)
    return None


def _load_scan_cache(cache_file: Path | None) -> dict:
    if cache_file is None or not cache_file.exists():
        return {}
    try:
        data = json.loads(cache_file.read_text())
    except (OSError, ValueError):
        return {}
    return data.get("files", {}) if data.get("version") == SCAN_CACHE_VERSION else {}


def scan(
    root: Path, samples: list[Sample], cache_file: Path | None = None, progress=None
) -> dict[str, str | None]:
    """Check every file once (cached by size and mtime); returns path -> verdict."""
    cached = _load_scan_cache(cache_file)
    verdicts: dict[str, str | None] = {}
    todo: list[tuple[str, list]] = []
    for sample in samples:
        st = (root / sample.path).stat()
        key = [st.st_size, st.st_mtime_ns]
        hit = cached.get(sample.path)
        if hit and hit[0] == key:
            verdicts[sample.path] = hit[1]
        else:
            todo.append((sample.path, key))
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = pool.map(lambda item: inspect_file(root / item[0]), todo)
        for i, ((path, _), verdict) in enumerate(zip(todo, results, strict=True)):
            verdicts[path] = verdict
            if progress is not None and (i + 1) % max(1, len(todo) // 5) == 0:
                progress(i + 1, len(todo))
    if cache_file is not None and todo:
        entries = {}
        for sample in samples:
            st = (root / sample.path).stat()
            entries[sample.path] = [[st.st_size, st.st_mtime_ns], verdicts[sample.path]]
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"version": SCAN_CACHE_VERSION, "files": entries}))
        os.replace(tmp, cache_file)
    return verdicts


def read_exclusions(exclude_file: str | None) -> set[str]:
    """Relative paths listed one per line (or as the first CSV column); '#' starts a comment."""
    if not exclude_file:
        return set()
    path = Path(exclude_file)
    if not path.is_file():
        raise PipelineError(f"exclusion list {path} does not exist")
    paths = set()
    for line in path.read_text().splitlines():
        entry = line.split("#", 1)[0].split(",", 1)[0].strip()
        if entry and entry != "path":
            paths.add(entry)
    return paths


def subset(samples: list[Sample], max_per_class: int | None, seed: int) -> list[Sample]:
    """A deterministic subset of at most `max_per_class` files per class."""
    if max_per_class is None:
        return samples
    chosen = []
    for label in sorted({s.label for s in samples}):
        of_class = [s for s in samples if s.label == label]
        of_class.sort(key=lambda s: _unit_hash("subset", seed, s.path))
        chosen.extend(of_class[:max_per_class])
    return sorted(chosen, key=lambda s: s.path)


def load_dataset(
    root: Path,
    seed: int,
    val_fraction: float,
    max_per_class: int | None = None,
    exclude_file: str | None = None,
    cache_file: Path | None = None,
    progress=None,
) -> Dataset:
    """Discover, check, subset and split the photos under `root`."""
    root = Path(root)
    class_names = find_classes(root)
    all_samples = list_files(root, class_names)
    excluded = read_exclusions(exclude_file)
    candidates = subset([s for s in all_samples if s.path not in excluded], max_per_class, seed)
    verdicts = scan(root, candidates, cache_file, progress)
    skipped = [
        Skipped(p, v[len("skip: ") :]) for p, v in verdicts.items() if v and v.startswith("skip")
    ]
    converted = {
        p: v[len("convert: ") :] for p, v in verdicts.items() if v and v.startswith("convert")
    }
    usable = [s for s in candidates if not (verdicts[s.path] or "").startswith("skip")]
    for label, name in enumerate(class_names):
        if not any(s.label == label for s in usable):
            raise PipelineError(f"class folder {root / name} holds no usable images")
    val = [s for s in usable if is_validation(s.path, seed, val_fraction)]
    train = [s for s in usable if not is_validation(s.path, seed, val_fraction)]
    if not train or not val:
        raise PipelineError("too few images to make both a training and a validation split")
    return Dataset(
        str(root),
        class_names,
        train,
        val,
        sorted(skipped, key=lambda s: s.path),
        converted,
        sorted(excluded & {s.path for s in all_samples}),
        len(all_samples),
    )


def skipped_as_dicts(dataset: Dataset) -> list[dict]:
    return [asdict(s) for s in dataset.skipped]


# --- tf.data -----------------------------------------------------------------


def image_dataset(
    root: str,
    samples: list[Sample],
    input_size: tuple[int, int],
    batch_size: int,
    shuffle_seed: int | None = None,
    augment=None,
    mirror: bool = False,
    as_float: bool = True,
):
    """Batches of (float32 0-255 images, float32 labels of shape (n, 1)).

    Each file goes through `load_model_input`, the same code the dashboard
    uses for an upload. `augment` (a Keras layer) runs on whole batches.
    `as_float=False` keeps the images as uint8, for caching.
    """
    import tensorflow as tf

    height, width = input_size
    paths = [os.path.join(root, s.path) for s in samples]
    labels = np.array([[s.label] for s in samples], dtype=np.float32)
    ds = tf.data.Dataset.from_tensor_slices((paths, labels))
    if shuffle_seed is not None:
        ds = ds.shuffle(len(paths), seed=shuffle_seed, reshuffle_each_iteration=True)

    def load(path):
        return load_model_input(path.decode(), (height, width))

    def load_tf(path, label):
        image = tf.numpy_function(load, [path], tf.uint8, stateful=False)
        image.set_shape((height, width, 3))
        return image, label

    ds = ds.map(load_tf, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ds = ds.batch(batch_size)
    if as_float:
        ds = ds.map(lambda x, y: (tf.cast(x, tf.float32), y))
    if augment is not None:
        ds = ds.map(lambda x, y: (augment(x, training=True), y), num_parallel_calls=2)
    if mirror:  # a second, left-right mirrored view for feature caching
        ds = ds.map(lambda x, y: (tf.reverse(x, axis=[2]), y))
    return ds.prefetch(2).with_options(quiet_options())


def quiet_options():
    """tf.data settings that leave the CPU cores to the model.

    With tf.data's autotuning on, its threads compete with the model's for the
    two cores: extracting MobileNetV2 features from photos ran at 62 images/s
    against 98 with a private pool and autotuning off (the model alone: 103).
    """
    import tensorflow as tf

    options = tf.data.Options()
    options.threading.private_threadpool_size = os.cpu_count() or 1
    options.autotune.enabled = False
    return options
