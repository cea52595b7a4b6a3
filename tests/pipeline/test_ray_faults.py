"""Ray faults, for real: workers killed with SIGKILL, a second node lost, a real
two-node cluster on 127.0.0.1 (see tests/raycluster.py)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from pipeline.store import artifacts
from pipeline.workflows.rescore import evaluate_run
from pipeline.workflows.verify import verify_run
from tests.raycluster import find_below, stop_session, two_node_cluster

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def _argv(shared_data, shared_weights, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "pipeline", "train", "--profile", "quick",
        "--data-dir", str(shared_data), "--weights", str(shared_weights), "--out", str(out),
        "--cnn-input-size", "32", "--mobilenet-input-size", "96", "--frozen-epochs", "2",
        "--finetune-epochs", "1", *extra,
    ]  # fmt: skip


def _start(argv: list[str], log: Path, env: dict | None = None) -> subprocess.Popen:
    """The driver in a session of its own, so that `_stop` can end it and its Ray."""
    env = dict(env or os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(ROOT))
    with log.open("w") as sink:
        return subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


@contextlib.contextmanager
def _driver(argv: list[str], log: Path, env: dict | None = None):
    """A running driver; whatever happens, it and the local Ray it started are stopped."""
    proc = _start(argv, log, env)
    try:
        yield proc
    finally:
        stop_session(proc.pid, grace_s=5)


def _wait(condition, proc: subprocess.Popen, log: Path, timeout: float = 400):
    deadline = time.monotonic() + timeout
    while True:
        found = condition()
        if found:
            return found
        assert proc.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.02)


def _shards(out: Path, kind: str) -> list[Path]:
    return list((out / artifacts.CACHE).glob(f"{kind}-*/shard-*"))


def _epochs_done(out: Path, model: str) -> int:
    for state in (out / artifacts.RUNS).glob(f"*/models/.{model}.checkpoint/state.json"):
        found = re.search(r'"epochs_done":\s*(\d+)', state.read_text())
        if found:
            return int(found.group(1))
    return 0


def _kill_feature_actor(driver: subprocess.Popen, log: Path) -> None:
    """SIGKILL a MobileNetV2 feature actor. The driver is paused meanwhile, so it cannot finish
    the extraction and tear the pool down first (300 small photos take a few seconds)."""
    os.kill(driver.pid, signal.SIGSTOP)
    try:
        find = lambda: find_below(driver.pid, "MapBatches(FeatureWriter)")  # noqa: E731
        os.kill(_wait(find, driver, log, timeout=60)[0], signal.SIGKILL)
    finally:
        os.kill(driver.pid, signal.SIGCONT)


def test_workers_killed_in_training_and_extraction_are_retried(
    shared_data, shared_weights, tmp_path
):
    out, log = tmp_path / "art", tmp_path / "train.log"
    argv = _argv(shared_data, shared_weights, out, "--max-per-class", "150", "--cnn-epochs", "30")
    models = ["--models", "cnn3", "mobilenetv2_frozen", "--ray", "auto"]
    with _driver([*argv, *models], log) as driver:
        # Both run at once, in either order: whichever is ready first is killed first.
        # 1. the worker training cnn3, once an epoch is checkpointed;
        # 2. an actor extracting MobileNetV2 features, once it has written a shard.
        killed: set[str] = set()

        def kill_what_is_ready() -> bool:
            if "trainer" not in killed and _epochs_done(out, "cnn3") >= 1:
                trainer = find_below(driver.pid, "train cnn3")
                if trainer:
                    os.kill(trainer[0], signal.SIGKILL)
                    killed.add("trainer")
            if "actor" not in killed and _shards(out, "pooled"):
                _kill_feature_actor(driver, log)
                killed.add("actor")
            return len(killed) == 2

        _wait(kill_what_is_ready, driver, log)
        assert driver.wait(timeout=600) == 0, log.read_text()[-3000:]
    text = log.read_text()
    assert "cnn3: resumed after epoch" in text and "Traceback" not in text
    run = artifacts.latest_run(out)
    assert len(run.history("cnn3")) == 30
    assert verify_run(run) == []
    # The frozen model's predictions (from features cached by killed and restarted
    # actors) are what the saved model gives on the photos, computed again here.
    cached = run.predictions("mobilenetv2_frozen").p_dog.to_numpy()
    evaluate_run(run)
    again = artifacts.read_run(run.path).predictions("mobilenetv2_frozen").p_dog.to_numpy()
    assert np.abs(cached - again).max() < 1e-4


def test_a_two_node_cluster_survives_losing_a_node_and_the_rerun_uses_the_caches(
    shared_data, shared_weights, tmp_path
):
    out = tmp_path / "art"
    argv = _argv(shared_data, shared_weights, out, "--max-per-class", "150", "--cnn-epochs", "2")
    argv += ["--models", "cnn3", "mobilenetv2_frozen"]
    with two_node_cluster() as cluster:
        first_log = tmp_path / "first.log"
        with _driver([*argv, "--ray", cluster.address], first_log, cluster.env) as driver:
            _wait(lambda: "Ray: Ray at" in first_log.read_text(), driver, first_log)
            assert "2 node(s), 2 CPU(s)" in first_log.read_text()
            _wait(lambda: _shards(out, "pooled"), driver, first_log)
            stop_session(cluster.worker.session, grace_s=0)  # the second node is lost
            assert driver.wait(timeout=900) == 0, first_log.read_text()[-3000:]
        run = artifacts.latest_run(out)
        assert run.manifest["cluster"]["nodes"] == 2
        assert verify_run(run) == []

        rerun = subprocess.run(
            [*argv, "--ray", cluster.address, "--fresh"],
            cwd=ROOT,
            env=dict(cluster.env, PYTHONPATH=str(ROOT)),
            capture_output=True,
            text=True,
            timeout=900,
        )
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    text = rerun.stdout + rerun.stderr
    assert "1 node(s), 1 CPU(s)" in text
    assert re.search(r"  0 photo\(s\) decoded, \d+ already in the cache", text)
    assert re.search(r"  0 photo pass\(es\) computed, \d+ from the cache", text)
