"""Find, check and split the photos; stream them to Keras with tf.data.

Every photo is identified by its content (sha256), not only its name: the
split hashes the content, so identical photos under two names always land on
the same side, a file never changes side when the folder grows, and the
caches and the run's data fingerprint follow what the photos are.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from pipeline import faults
from pipeline.data.images import (
    ImageError,
    load_model_input,
    load_rgb,
    loader_identity,
    resize_like_tensorflow,
)
from pipeline.data.photo_size import typical_side
from pipeline.devices import dataset_options, prefetch_depth
from pipeline.errors import PipelineError

SCAN_CACHE_VERSION = 2
# Fewer usable photos than this in a class cannot make a meaningful split.
MIN_PER_CLASS = 5
# A data folder holding these sub-folders is split already: `train/` and the first of the
# others that exists, each with the same class folders. They are never taken for classes.
TRAIN_FOLDER = "train"
VAL_FOLDERS = ("val", "validation", "test")
# A class with fewer photos than this share of the largest class's is reported.
IMBALANCE_RATIO = 0.1
# More class folders than this is refused: beyond it a folder is more likely one photo per
# folder than classes, and every N x N record (confusion matrices, pairs) grows as N squared.
MAX_CLASSES = 1000


@dataclass(frozen=True)
class Sample:
    path: str  # relative to the data folder, with forward slashes
    label: int
    sha256: str = ""  # content hash; empty only where a caller does not need it


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
    unmatched_exclusions: list[str] = field(default_factory=list)
    duplicates: list[list[str]] = field(default_factory=list)  # paths with identical content
    # With a dev split: how many validation photos were left out of the run entirely.
    held_out: int = 0
    # A split given by the folders: (training folder, validation folder); None: by content.
    given_split: tuple[str, str] | None = None
    # Given split: validation photos whose exact content is also among the training photos.
    leaks: list[str] = field(default_factory=list)
    # The training photos' median shorter side, in pixels (`pipeline.data.photo_size`).
    typical_side: int | None = None
    # With --dedupe-near: photos moved to the other side to keep near-duplicates together.
    near_moved: list[str] = field(default_factory=list)

    @property
    def samples(self) -> list[Sample]:
        return sorted(self.train + self.val, key=lambda s: s.path)

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
            "duplicate_groups": len(self.duplicates),
            "held_out": self.held_out,
            "train": per_class(self.train),
            "val": per_class(self.val),
        }


def _unit_hash(salt: str, seed: int, key: str) -> float:
    digest = hashlib.sha256(f"{salt}:{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def is_validation(content_sha256: str, seed: int, fraction: float) -> bool:
    """Deterministic split by content: identical photos always land on the same side."""
    return _unit_hash("split", seed, content_sha256) < fraction


def is_dev(content_sha256: str, seed: int, fraction: float) -> bool:
    """Whether a *training* photo belongs to the dev split carved from the training photos."""
    return _unit_hash("dev", seed, content_sha256) < fraction


def carve_dev(
    train: list[Sample], val: list[Sample], seed: int, fraction: float
) -> tuple[list[Sample], list[Sample], int]:
    """(training, dev, validation photos left out) for tuning on a dev split.

    Settings are chosen by scoring on photos carved from the training side, so the
    validation photos the headline reports never influence them: such a run neither
    trains nor scores on a single validation photo. Its `val` side is the dev split.
    """
    if fraction <= 0:
        return train, val, 0
    dev = [s for s in train if is_dev(s.sha256, seed, fraction)]
    rest = [s for s in train if not is_dev(s.sha256, seed, fraction)]
    return rest, dev, len(val)


def _sub_folders(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def find_split_folders(root: Path) -> tuple[str, str] | None:
    """(training folder, validation folder) when `root` is laid out as a given split
    (`train/` beside `val/`, `validation/` or `test/`); None for one folder per class."""
    if not root.is_dir():
        return None
    present = set(_sub_folders(root))
    given = [name for name in VAL_FOLDERS if name in present]
    if TRAIN_FOLDER in present and given:
        return TRAIN_FOLDER, given[0]
    if given or TRAIN_FOLDER in present:
        found = "/, ".join(sorted(present & {TRAIN_FOLDER, *VAL_FOLDERS})) + "/"
        raise PipelineError(
            f"{root} holds {found} but not both a train/ folder and one of "
            f"{', '.join(f + '/' for f in VAL_FOLDERS)}: split folders are never taken for "
            "classes. Add the missing side, or point --data-dir at one folder per class"
        )
    return None


def find_classes(root: Path, split: tuple[str, str] | None = None) -> list[str]:
    """The class folders' names, sorted: label i is the i-th. With a given `split`, both
    sides must hold the same classes."""
    if not root.is_dir():
        raise PipelineError(
            f"data folder {root} does not exist. Point --data-dir at a folder with one "
            "sub-folder per class (e.g. Cat/ and Dog/), or run `python -m pipeline fetch-data`."
        )
    if split is not None:
        train, val = (_sub_folders(root / side) for side in split)
        if train != val:
            only_train = sorted(set(train) - set(val)) or ["none"]
            only_val = sorted(set(val) - set(train)) or ["none"]
            raise PipelineError(
                f"the class folders of {root / split[0]} and {root / split[1]} differ: only in "
                f"{split[0]}/: {', '.join(only_train)}; only in {split[1]}/: "
                f"{', '.join(only_val)}. Both sides need the same class folders"
            )
        classes, where = train, f"{root / split[0]} and {root / split[1]} each"
    else:
        classes, where = _sub_folders(root), str(root)
    _check_class_folders(root, classes, where=where, split=split)
    return classes


def _holds_files(folder: Path) -> bool:
    return any(p.is_file() and not p.name.startswith(".") for p in folder.iterdir())


def _check_class_folders(
    root: Path, classes: list[str], *, where: str, split: tuple[str, str] | None
) -> None:
    """Clear errors for folders that cannot be a set of classes."""
    sides = [root / side for side in split] if split else [root]
    if len(classes) == 1:
        inner = _sub_folders(sides[0] / classes[0])
        if len(inner) >= 2 and not _holds_files(sides[0] / classes[0]):
            raise PipelineError(
                f"{where} holds one folder, {classes[0]}/, and it holds the folders "
                f"{', '.join(f + '/' for f in inner[:5])}{' ...' if len(inner) > 5 else ''}: "
                f"the photos are one level deeper. Pass --data-dir {sides[0] / classes[0]}"
            )
    if len(classes) < 2:
        found = ", ".join(f + "/" for f in classes) or "none"
        raise PipelineError(
            f"{where} must hold at least two class folders, one per class (e.g. Cat/ and "
            f"Dog/, or daisy/ roses/ tulips/); found {len(classes)}: {found}"
        )
    if len(classes) > MAX_CLASSES:
        raise PipelineError(
            f"{where} holds {len(classes):,} folders; at most {MAX_CLASSES:,} classes are "
            "compared (is it one folder per photo, or a folder of classes one level down?)"
        )
    by_case: dict[str, list[str]] = defaultdict(list)
    for name in classes:
        by_case[name.casefold()].append(name)
    clashes = [names for names in by_case.values() if len(names) > 1]
    if clashes:
        shown = "; ".join(" and ".join(f + "/" for f in names) for names in clashes)
        raise PipelineError(
            f"class folders under {where} differ only in case: {shown}. They would be one "
            "folder on macOS and Windows: merge or rename them"
        )
    for side in sides:
        empty = [c for c in classes if not any(_walk_files(side / c))]
        if empty:
            raise PipelineError(
                f"class folder(s) {', '.join(f + '/' for f in empty)} under {side} hold no "
                f"files: every class needs at least {MIN_PER_CLASS} photos. Add photos or "
                "remove the empty folder"
            )


def _walk_files(folder: Path):
    for _dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        yield from (f for f in filenames if not f.startswith("."))


def _is_utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes arrive as surrogate escapes
        return False
    return True


def list_files(root: Path, class_names: list[str], side: str = "") -> list[Sample]:
    """Every file under the class folders (of the split folder `side`, if given), labelled by
    folder, in sorted order; paths relative to `root`."""
    samples = []
    for label, name in enumerate(class_names):
        for dirpath, dirnames, filenames in os.walk(root / side / name):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for filename in sorted(filenames):
                samples.append(Sample(Path(dirpath, filename).relative_to(root).as_posix(), label))
    return samples


def _bad_name(sample: Sample) -> Skipped:
    shown = sample.path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return Skipped(shown, "file name is not valid UTF-8; rename the file to use it")


def hash_samples(root: Path, samples: list[Sample]) -> list[Sample]:
    """The samples with their content sha256 filled in."""
    return [
        Sample(s.path, s.label, hashlib.sha256((Path(root) / s.path).read_bytes()).hexdigest())
        for s in samples
    ]


def inspect_bytes(data: bytes) -> str | None:
    """None if the photo is usable as is, else 'skip: why' or 'convert: what'."""
    try:
        loaded = load_rgb(data)
    except ImageError as err:
        return f"skip: {err}"
    if loaded.notes:
        return "convert: " + "; ".join(loaded.notes)
    return None


def inspect_file(path: Path) -> str | None:
    """`inspect_bytes` of a file; an unreadable file is one to skip."""
    try:
        return inspect_bytes(Path(path).read_bytes())
    except OSError as err:
        return f"skip: unreadable ({err.strerror or err})"


def _read_and_hash(path: Path) -> tuple[str | None, bytes | None, str | None]:
    """(sha256, bytes, error) of one file."""
    try:
        data = path.read_bytes()
    except OSError as err:
        return None, None, f"skip: unreadable ({err.strerror or err})"
    return hashlib.sha256(data).hexdigest(), data, None


def _load_verdicts(cache_file: Path | None) -> dict:
    if cache_file is None or not cache_file.exists():
        return {}
    try:
        data = json.loads(cache_file.read_text())
    except (OSError, ValueError):
        return {}
    fresh = data.get("version") == SCAN_CACHE_VERSION and data.get("loader") == loader_identity()
    return data.get("verdicts", {}) if fresh else {}


def _save_verdicts(cache_file: Path, verdicts: dict) -> None:
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache_file.with_name(f".{cache_file.name}.{os.getpid()}.tmp")
    payload = {"version": SCAN_CACHE_VERSION, "loader": loader_identity(), "verdicts": verdicts}
    tmp.write_text(json.dumps(payload))
    os.replace(tmp, cache_file)


def scan(
    root: Path, samples: list[Sample], cache_file: Path | None = None, progress=None
) -> tuple[list[Sample], dict[str, str | None]]:
    """Hash every file and check it once per content; returns (hashed samples, path -> verdict).

    Verdicts are cached by content hash and loader version, so a moved folder is not
    decoded again, and an edited photo is.
    """
    cached = _load_verdicts(cache_file)
    known = dict(cached)
    verdicts: dict[str, str | None] = {}
    hashed: list[Sample] = []

    def check(sample: Sample):
        digest, data, error = _read_and_hash(root / sample.path)
        if error or digest in known:
            return sample, digest, error if error else known[digest]
        return sample, digest, inspect_bytes(data)

    with ThreadPoolExecutor(max_workers=4) as pool:
        for i, (sample, digest, verdict) in enumerate(pool.map(check, samples)):
            faults.point("scan")
            verdicts[sample.path] = verdict
            if digest is not None:
                hashed.append(Sample(sample.path, sample.label, digest))
                known[digest] = verdict
            if progress is not None and (i + 1) % max(1, len(samples) // 5) == 0:
                progress(i + 1, len(samples))
    if cache_file is not None and known != cached:
        _save_verdicts(cache_file, known)
    return hashed, verdicts


def _without_comment(entry: str) -> str:
    """'Cat/1.jpg  # mislabeled' -> 'Cat/1.jpg'; surrounding quotes are dropped too."""
    entry = re.split(r"\s+#", entry, maxsplit=1)[0].strip()
    if len(entry) >= 2 and entry[0] == entry[-1] and entry[0] in "\"'":
        entry = entry[1:-1]
    return entry


def _exclusion_entries(text: str) -> list[str]:
    """Paths from an exclusion list: a CSV with a `path` column, or one path per line."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return []
    header = next(csv.reader([lines[0]]))
    if header and header[0].strip().lower() == "path":
        rows = list(csv.reader(io.StringIO(text)))[1:]
        entries = [_without_comment(row[0]) for row in rows if row]
    else:
        entries = [_without_comment(line) for line in lines if not line.lstrip().startswith("#")]
    return [e for e in entries if e]


def read_exclusions(exclude_file: str | None) -> list[str]:
    """Relative paths to leave out, in file order.

    Either a CSV whose first column is headed `path` (as suspects.csv is; quoted
    fields may hold commas), or one path per line. In both, ' # ...' ends an entry
    with a comment, a line starting with '#' is a comment, and quotes around a
    path are dropped.
    """
    if not exclude_file:
        return []
    path = Path(exclude_file)
    if not path.is_file():
        raise PipelineError(f"exclusion list {path} does not exist")
    try:
        entries = _exclusion_entries(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError:
        raise PipelineError(f"exclusion list {path} is not UTF-8 text") from None
    except csv.Error as err:
        raise PipelineError(f"exclusion list {path} is not valid CSV ({err})") from None
    return [e.replace("\\", "/").removeprefix("./") for e in entries]


def subset(samples: list[Sample], max_per_class: int | None, seed: int) -> list[Sample]:
    """A deterministic subset of at most `max_per_class` files per class (per class and side,
    for a given split: its paths start with the side's folder)."""
    if max_per_class is None:
        return samples
    chosen = []
    for group in sorted({(s.label, _side_of(s)) for s in samples}):
        of_class = [s for s in samples if (s.label, _side_of(s)) == group]
        of_class.sort(key=lambda s: _unit_hash("subset", seed, s.path))
        chosen.extend(of_class[:max_per_class])
    return sorted(chosen, key=lambda s: s.path)


def _side_of(sample: Sample) -> str:
    """The split folder a given split's photo is under (a class name for other layouts)."""
    return sample.path.split("/", 1)[0]


def leaked(train: list[Sample], val: list[Sample]) -> list[str]:
    """Validation photos whose exact content is also a training photo's, sorted."""
    seen = {s.sha256 for s in train}
    return sorted(s.path for s in val if s.sha256 in seen)


def class_imbalance(counts: dict[str, int]) -> str | None:
    """A warning when the smallest class has under IMBALANCE_RATIO of the largest's photos."""
    if not counts or max(counts.values()) == 0:
        return None
    smallest, largest = min(counts, key=counts.get), max(counts, key=counts.get)
    if counts[smallest] >= IMBALANCE_RATIO * counts[largest]:
        return None
    return (
        f'class "{smallest}" has {counts[smallest]:,} training photo(s), under a tenth of the '
        f'{counts[largest]:,} of class "{largest}": accuracy alone says little, read each '
        "class's recall"
    )


def duplicate_groups(samples: list[Sample]) -> list[list[str]]:
    """Paths of photos whose content is identical, one sorted list per group."""
    by_hash: dict[str, list[str]] = defaultdict(list)
    for sample in samples:
        by_hash[sample.sha256].append(sample.path)
    return sorted(sorted(paths) for paths in by_hash.values() if len(paths) > 1)


def _check_classes(
    root: Path, class_names: list[str], usable, *, train, val, fraction, given=None
) -> None:
    for label, name in enumerate(class_names):
        n = sum(s.label == label for s in usable)
        if n < MIN_PER_CLASS:
            raise PipelineError(
                f"class {name} holds {n} usable photo(s) under {root}; at least "
                f"{MIN_PER_CLASS} per class are needed for a training and a validation split"
            )
        for side, part, folder in (("validation", val, 1), ("training", train, 0)):
            if any(s.label == label for s in part):
                continue
            if given:
                raise PipelineError(
                    f"no usable {side} photo of class {name} in {root / given[folder] / name}"
                )
            raise PipelineError(
                f"no {side} photo of class {name}: its {n} photos all fell on the other "
                f"side of the {fraction:.0%} split. Add photos, or change --val-fraction "
                "or --seed"
            )


def load_dataset(
    root: Path,
    seed: int,
    val_fraction: float,
    max_per_class: int | None = None,
    exclude_file: str | None = None,
    cache_file: Path | None = None,
    progress=None,
    dev_fraction: float = 0.0,
) -> Dataset:
    """Discover, hash, check, subset and split the photos under `root`.

    With `dev_fraction`, that share of the training photos becomes the run's validation
    side and the real validation photos are left out (`carve_dev`)."""
    root = Path(root)
    given = find_split_folders(root)
    class_names = find_classes(root, given)
    sides = given or ("",)
    listed = [s for side in sides for s in list_files(root, class_names, side)]
    all_samples = [s for s in listed if _is_utf8(s.path)]
    bad_names = [_bad_name(s) for s in listed if not _is_utf8(s.path)]
    entries = read_exclusions(exclude_file)
    known_paths = {s.path for s in all_samples}
    excluded = set(entries) & known_paths
    unmatched = list(dict.fromkeys(e for e in entries if e not in known_paths))
    candidates = subset([s for s in all_samples if s.path not in excluded], max_per_class, seed)
    hashed, verdicts = scan(root, candidates, cache_file, progress=progress)
    skipped = bad_names + [
        Skipped(p, v[len("skip: ") :]) for p, v in verdicts.items() if v and v.startswith("skip")
    ]
    converted = {
        p: v[len("convert: ") :] for p, v in verdicts.items() if v and v.startswith("convert")
    }
    usable = [s for s in hashed if not (verdicts[s.path] or "").startswith("skip")]
    if given:
        val = [s for s in usable if _side_of(s) == given[1]]
        train = [s for s in usable if _side_of(s) == given[0]]
    else:
        val = [s for s in usable if is_validation(s.sha256, seed, val_fraction)]
        train = [s for s in usable if not is_validation(s.sha256, seed, val_fraction)]
    leaks = leaked(train, val) if given else []  # a content split keeps copies together
    train, val, held_out = carve_dev(train, val, seed, fraction=dev_fraction)
    _check_classes(
        root, class_names, usable, train=train, val=val, fraction=val_fraction, given=given
    )
    return Dataset(
        str(root),
        class_names,
        train,
        val=val,
        skipped=sorted(skipped, key=lambda s: s.path),
        converted=converted,
        excluded=sorted(excluded),
        found=len(all_samples) + len(bad_names),
        unmatched_exclusions=unmatched,
        duplicates=duplicate_groups(usable),
        held_out=held_out,
        given_split=given,
        leaks=leaks,
        typical_side=typical_side(root, train),
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
    resize: str = "pillow",
):
    """Batches of (float32 0-255 images, float32 labels of shape (n, 1)).

    Each file goes through `load_model_input`, the same code the dashboard
    uses for an upload. `augment` (a Keras layer) runs on whole batches.
    `as_float=False` keeps the images as uint8, for caching. `resize="tensorflow"`
    swaps only the final resize for `tf.image.resize`'s default (a training view that
    teaches a model the pixels TensorFlow users feed it; see `images.resize_like_tensorflow`).
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

    def load_upright(path):
        return np.asarray(load_rgb(path.decode()).image, dtype=np.uint8)

    def load_tf(path, label):
        if resize == "tensorflow":
            image = tf.numpy_function(load_upright, [path], tf.uint8, stateful=False)
            image.set_shape((None, None, 3))
            image = resize_like_tensorflow(image, (height, width))
        else:
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
    return ds.prefetch(prefetch_depth()).with_options(dataset_options())
