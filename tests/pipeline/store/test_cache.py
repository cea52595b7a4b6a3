"""The content-keyed shard store: rows by hash, atomic shards, lazy gathering, pruning."""

import numpy as np
import pytest

from pipeline.store import cache

SPECS = {"v": ((2, 3), np.float32)}


def _store(root, size=7):
    return cache.ShardStore(root, "test", {"size": size}, SPECS)


def _rows(keys):
    return np.stack([np.full((2, 3), int(k, 16), np.float32) for k in keys])


def test_rows_are_found_by_hash_across_shards_in_any_order(tmp_path):
    store = _store(tmp_path)
    store.write_shard(["a", "b"], {"v": _rows(["a", "b"])})
    store.write_shard(["c"], {"v": _rows(["c"])})
    assert store.missing(["c", "d", "a", "d"]) == ["d"]
    view = cache.gather([(store, ["c", "a", "b", "a"])], "v")
    assert view.shape == (4, 2, 3) and view.dtype == np.float32 and len(view) == 4
    np.testing.assert_array_equal(view[np.array([3, 0])], _rows(["a", "c"]))
    np.testing.assert_array_equal(view[1:3], _rows(["a", "b"]))
    np.testing.assert_array_equal(np.asarray(view), _rows(["c", "a", "b", "a"]))


def test_other_producers_do_not_share_rows(tmp_path):
    _store(tmp_path, 7).write_shard(["a"], {"v": _rows(["a"])})
    assert _store(tmp_path, 8).missing(["a"]) == ["a"]
    assert _store(tmp_path, 7).missing(["a"]) == []


def test_a_failed_shard_write_leaves_nothing_behind(tmp_path):
    store = _store(tmp_path)
    store.writer()
    with pytest.raises(ValueError, match="shape"):
        store.write_shard(["a"], {"v": np.zeros((1, 9))})
    assert store.shards() == []
    assert [p.name for p in store.folder.iterdir()] == [cache.PRODUCER]


def test_writer_flushes_shards_of_bounded_size(tmp_path, monkeypatch):
    monkeypatch.setattr(cache, "SHARD_BYTES", 24 * 20)  # 20 rows of 24 bytes
    store = _store(tmp_path)
    writer = store.writer()
    keys = [f"{i:x}" for i in range(1, 46)]
    for i in range(0, 45, 5):
        writer.add(keys[i : i + 5], v=_rows(keys[i : i + 5]))
    writer.flush()
    assert [len((s / cache.KEYS).read_text().split()) for s in store.shards()].count(20) == 2
    np.testing.assert_array_equal(np.asarray(cache.gather([(store, keys)], "v")), _rows(keys))


def test_prune_keeps_used_rows_and_frees_the_rest(tmp_path):
    store = _store(tmp_path)
    store.write_shard(["a", "b", "c"], {"v": _rows(["a", "b", "c"])})
    store.write_shard(["d"], {"v": _rows(["d"])})
    other = _store(tmp_path, 99)
    other.write_shard(["a"], {"v": _rows(["a"])})
    dry = cache.prune(tmp_path, {store.name: {"a", "c"}}, dry_run=True)
    assert dry.freed_bytes > 0 and len(_store(tmp_path).shards()) == 2
    report = cache.prune(tmp_path, {store.name: {"a", "c"}})
    assert report.removed_folders == 1 and report.removed_shards == 1
    assert report.rewritten_shards == 1 and report.freed_bytes == dry.freed_bytes
    fresh = _store(tmp_path)
    assert fresh.missing(["a", "b", "c", "d"]) == ["b", "d"]
    np.testing.assert_array_equal(np.asarray(cache.gather([(fresh, ["c", "a"])], "v")), _rows("ca"))
    assert not other.folder.exists()
