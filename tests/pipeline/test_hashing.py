"""The shared digests give byte for byte what each identity computed before them."""

import hashlib
import json
from pathlib import Path

from pipeline.config import RunConfig, make_config
from pipeline.hashing import file_sha256, json_sha256

NESTED = {
    "zeta": [1.5, 0.1, 1e-7, 3.0, -2.25e300, 7],
    "name": "chat noir 🐈 — Müller, naïve, 猫",
    "nested": {"b": {"y": [None, True, False], "x": (1, 2)}, "a": '\u00e9\n\t"quoted"'},
    "empty": {},
    "ints": [0, -1, 2**63],
}


def _old(data, **kwargs) -> str:
    """The expression config.py, fingerprint.py and cache.py (and sweep.py, with
    default=str) used before `json_sha256`."""
    return hashlib.sha256(json.dumps(data, sort_keys=True, **kwargs).encode()).hexdigest()


def test_json_sha256_is_the_old_expression_on_nested_non_ascii_data_and_floats():
    assert json_sha256(NESTED) == _old(NESTED)
    grid = {"seed": [1, 2], "data_dir": [Path("a/ü"), Path("b")], "lr": [1e-3, 0.3]}
    assert json_sha256(["a784cea1", grid], default=str) == _old(["a784cea1", grid], default=str)


def test_json_sha256_hashes_json_with_its_default_separators_and_ascii_escapes():
    # The exact bytes: sorted keys, ", " and ": ", non-ASCII escaped as \\uXXXX.
    expected = b'{"a": null, "b": [1.5, "\\u00e9"], "c": {"d": 0.1}}'
    assert json_sha256({"c": {"d": 0.1}, "b": [1.5, "é"], "a": None}) == (
        hashlib.sha256(expected).hexdigest()
    )


def _old_fingerprint(config: RunConfig) -> str:
    data = config.to_dict()
    for key in ("out_dir", "data_dir", "robustness_photos"):
        data.pop(key)
    data.pop("inference")  # added later, never part of the identity: the engines agree
    if not data["dedupe_near"]:  # added later: left out while off, so older runs keep theirs
        data.pop("dedupe_near")
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:8]


def test_run_config_fingerprints_are_unchanged():
    for config in (
        RunConfig(),
        make_config("quick"),
        RunConfig().replace(seed=7, models=("cnn3",)),
    ):
        assert config.fingerprint() == _old_fingerprint(config)


def test_cache_folders_and_sweep_ids_are_unchanged():
    from pipeline.store.cache import producer_folder
    from pipeline.workflows.sweep import sweep_id

    producer = {"loader": "v3", "pillow": "13.0.0", "size": 64, "weights": "é" * 3, "x": 0.5}
    assert producer_folder("pixels", producer) == f"pixels-{_old(producer)[:16]}"
    base, grid = RunConfig(), {"seed": [1, 2], "data_dir": [Path("photos")]}
    old = _old([base.fingerprint(), grid], default=str)[:10]
    assert sweep_id(base, grid) == old


def test_file_sha256_is_the_sha256_of_the_bytes(tmp_path):
    big = tmp_path / "big.bin"
    big.write_bytes(bytes(range(256)) * 20_000)  # several read chunks
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert file_sha256(big) == hashlib.sha256(big.read_bytes()).hexdigest()
    assert file_sha256(str(big)) == file_sha256(big)
    assert file_sha256(empty) == hashlib.sha256(b"").hexdigest()
    assert file_sha256(empty) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
