"""Per-photo arrays keyed by content hash and by what produced them.

    cache/<kind>-<producer hash>/
      producer.json                 what made these arrays (loader, Pillow, TF, size, weights…)
      shard-<id>/keys.txt           one photo content hash per row
      shard-<id>/<array>.npy        one row per key

A shard is written under a temporary name unique to its process and appears in
one rename, so a killed writer leaves at most an ignored temporary folder and
every finished shard is kept: an interrupted extraction resumes where it
stopped. Adding photos writes only their rows; a moved data folder reuses
everything; an edited photo has a new hash and is computed again.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.hashing import json_sha256

KEYS = "keys.txt"
PRODUCER = "producer.json"
SHARD_PREFIX = "shard-"
TMP_PREFIX = ".tmp-"
# A shard is flushed once its rows reach about this many bytes (or the input ends).
SHARD_BYTES = 32 * 1024 * 1024

Specs = dict[str, tuple[tuple[int, ...], np.dtype]]  # array name -> (row shape, dtype)


def producer_folder(kind: str, producer: dict) -> str:
    digest = json_sha256(producer)
    return f"{kind}-{digest[:16]}"


def _folder_size(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


class ShardStore:
    """Rows of named arrays, one row per photo content hash."""

    def __init__(self, cache_root: Path, kind: str, producer: dict, specs: Specs):
        self.name = producer_folder(kind, producer)
        self.folder = Path(cache_root) / self.name
        self.producer = {"kind": kind, **producer}
        self.specs = {k: (tuple(shape), np.dtype(dtype)) for k, (shape, dtype) in specs.items()}
        self._index: dict[str, tuple[Path, int]] | None = None
        self._arrays: dict[Path, dict[str, np.ndarray]] = {}

    # --- reading -----------------------------------------------------------

    def shards(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        return sorted(p for p in self.folder.iterdir() if p.name.startswith(SHARD_PREFIX))

    def index(self) -> dict[str, tuple[Path, int]]:
        """content hash -> (shard, row); rebuilt after every write."""
        if self._index is None:
            index = {}
            for shard in self.shards():
                keys = (shard / KEYS).read_text().split()
                index.update({key: (shard, row) for row, key in enumerate(keys)})
            self._index = index
        return self._index

    def missing(self, hashes: Iterable[str]) -> list[str]:
        """Hashes without a row, each once, in first-seen order."""
        index = self.index()
        return [h for h in dict.fromkeys(hashes) if h not in index]

    def arrays(self, shard: Path) -> dict[str, np.ndarray]:
        if shard not in self._arrays:
            self._arrays[shard] = {
                name: np.load(shard / f"{name}.npy", mmap_mode="r") for name in self.specs
            }
        return self._arrays[shard]

    # --- writing -----------------------------------------------------------

    def _ensure_folder(self) -> None:
        """The store's folder, with a note of what produced its rows."""
        self.folder.mkdir(parents=True, exist_ok=True)
        meta = self.folder / PRODUCER
        if not meta.exists():
            tmp = self.folder / f"{TMP_PREFIX}{os.getpid()}-{uuid.uuid4().hex}.json"
            try:
                tmp.write_text(json.dumps(self.producer, indent=2, sort_keys=True) + "\n")
                os.replace(tmp, meta)
            finally:  # a full disk leaves no half-written note behind
                tmp.unlink(missing_ok=True)

    def writer(self) -> ShardWriter:
        self._ensure_folder()
        return ShardWriter(self)

    def write_shard(self, keys: list[str], rows: dict[str, np.ndarray]) -> Path:
        self._ensure_folder()
        shard = write_shard(self.folder, self.specs, keys, rows=rows)
        self._index = None
        return shard


def _save(path: Path, array: np.ndarray) -> None:
    """np.save, with a short write on a full disk reported as the ENOSPC it is.

    numpy raises a bare OSError ("N requested and M written") without an errno then.
    """
    try:
        np.save(path, array)
    except OSError as err:
        if err.errno is None and shutil.disk_usage(path.parent).free < array.nbytes:
            raise OSError(errno.ENOSPC, "No space left on device", str(path)) from err
        raise


def write_shard(folder: Path, specs: Specs, keys: list[str], rows: dict[str, np.ndarray]) -> Path:
    """Write one shard atomically; a failure (e.g. a full disk) leaves nothing behind."""
    shard_id = uuid.uuid4().hex
    tmp = folder / f"{TMP_PREFIX}{os.getpid()}-{shard_id}"
    try:
        tmp.mkdir()
        for name, (shape, dtype) in specs.items():
            array = np.asarray(rows[name], dtype=dtype)
            if array.shape != (len(keys), *shape):
                raise ValueError(f"{name}: rows of shape {array.shape[1:]}, expected {shape}")
            _save(tmp / f"{name}.npy", array)
        (tmp / KEYS).write_text("\n".join(keys) + "\n")
        final = folder / f"{SHARD_PREFIX}{shard_id}"
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


class ShardWriter:
    """Buffers rows and writes a shard whenever about `SHARD_BYTES` have gathered."""

    def __init__(self, store: ShardStore):
        self.store = store
        self.keys: list[str] = []
        self.rows: dict[str, list[np.ndarray]] = {name: [] for name in store.specs}
        row_bytes = sum(int(np.prod(s)) * d.itemsize for s, d in store.specs.values())
        self.rows_per_shard = max(16, SHARD_BYTES // max(1, row_bytes))

    def add(self, keys: list[str], **arrays: np.ndarray) -> None:
        self.keys.extend(keys)
        for name in self.rows:
            self.rows[name].append(np.asarray(arrays[name]))
        if len(self.keys) >= self.rows_per_shard:
            self.flush()

    def flush(self) -> None:
        if not self.keys:
            return
        self.store.write_shard(
            self.keys, {name: np.concatenate(parts) for name, parts in self.rows.items()}
        )
        self.keys = []
        self.rows = {name: [] for name in self.store.specs}


@dataclass
class RowView:
    """Rows of one array gathered from several shards (and stores), read lazily.

    Supports what training and prediction need of an array: `len`, `shape`,
    `dtype`, and indexing by a slice or an array of row numbers.
    """

    sources: list[np.ndarray]  # memory-mapped arrays
    source_of: np.ndarray  # row -> index into sources
    row_in: np.ndarray  # row -> row within that source

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.source_of), *self.sources[0].shape[1:])

    @property
    def dtype(self) -> np.dtype:
        return self.sources[0].dtype

    def __len__(self) -> int:
        return len(self.source_of)

    def __iter__(self):
        for start in range(0, len(self), 256):
            yield from self[start : start + 256]

    def __getitem__(self, rows) -> np.ndarray:
        if np.ndim(rows) == 0 and not isinstance(rows, slice):
            return self[np.array([rows])][0]
        rows = np.arange(len(self))[rows] if isinstance(rows, slice) else np.asarray(rows)
        out = np.empty((len(rows), *self.shape[1:]), self.dtype)
        which, offsets = self.source_of[rows], self.row_in[rows]
        for source in np.unique(which):
            picked = which == source
            out[picked] = self.sources[source][offsets[picked]]
        return out

    def __array__(self, dtype=None, copy=None):
        array = self[:]
        return array if dtype is None else array.astype(dtype)


def gather(parts: list[tuple[ShardStore, list[str]]], name: str) -> RowView:
    """Array `name` for the concatenated rows of each (store, hashes) part."""
    sources: list[np.ndarray] = []
    position: dict[tuple[int, Path], int] = {}
    source_of, row_in = [], []
    for number, (store, hashes) in enumerate(parts):
        index = store.index()
        for digest in hashes:
            shard, row = index[digest]
            key = (number, shard)
            if key not in position:
                position[key] = len(sources)
                sources.append(store.arrays(shard)[name])
            source_of.append(position[key])
            row_in.append(row)
    return RowView(sources, np.asarray(source_of, np.int64), np.asarray(row_in, np.int64))


# --- pruning -------------------------------------------------------------------


@dataclass
class PruneReport:
    freed_bytes: int = 0
    removed_folders: int = 0
    removed_shards: int = 0
    rewritten_shards: int = 0
    kept_bytes: int = 0


def _is_stale_tmp(path: Path, max_age_s: float = 3600) -> bool:
    """A temporary shard whose writer is gone (dead pid on this host, or old)."""
    try:
        pid = int(path.name[len(TMP_PREFIX) :].split("-", 1)[0])
        os.kill(pid, 0)
    except (ValueError, ProcessLookupError):
        return True
    except PermissionError:
        pass
    return time.time() - path.stat().st_mtime > max_age_s


def prune(cache_root: Path, used: dict[str, set[str]], dry_run: bool = False) -> PruneReport:
    """Delete rows no run uses: `used` maps a store folder name to the hashes to keep.

    Folders no run names go whole; shards with no used row go; shards with some
    unused rows are rewritten with only the used ones.
    """
    report = PruneReport()
    cache_root = Path(cache_root)
    if not cache_root.is_dir():
        return report
    for folder in sorted(p for p in cache_root.iterdir() if p.is_dir()):
        keep = used.get(folder.name)
        if keep is None:
            report.freed_bytes += _folder_size(folder)
            report.removed_folders += 1
            if not dry_run:
                shutil.rmtree(folder)
            continue
        for entry in sorted(folder.iterdir()):
            if entry.name.startswith(TMP_PREFIX) and _is_stale_tmp(entry):
                report.freed_bytes += (
                    _folder_size(entry) if entry.is_dir() else entry.stat().st_size
                )
                if not dry_run:
                    shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
            elif entry.name.startswith(SHARD_PREFIX):
                _prune_shard(folder, entry, keep, report=report, dry_run=dry_run)
    return report


def _prune_shard(folder: Path, shard: Path, keep: set[str], report, dry_run: bool) -> None:
    keys = (shard / KEYS).read_text().split()
    wanted = [row for row, key in enumerate(keys) if key in keep]
    size = _folder_size(shard)
    if len(wanted) == len(keys):
        report.kept_bytes += size
        return
    if not wanted:
        report.freed_bytes += size
        report.removed_shards += 1
        if not dry_run:
            shutil.rmtree(shard)
        return
    report.rewritten_shards += 1
    arrays = {f.stem: np.load(f, mmap_mode="r") for f in shard.glob("*.npy")}
    kept_bytes = sum(a[wanted].nbytes for a in arrays.values())
    report.freed_bytes += max(0, size - kept_bytes)
    report.kept_bytes += kept_bytes
    if dry_run:
        return
    specs = {name: (a.shape[1:], a.dtype) for name, a in arrays.items()}
    write_shard(
        folder, specs, [keys[r] for r in wanted], rows={n: a[wanted] for n, a in arrays.items()}
    )
    del arrays
    shutil.rmtree(shard)
