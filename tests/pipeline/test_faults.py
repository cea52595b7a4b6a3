"""Crash, concurrency and disk faults, for real, on a small real subset of ../shared.

Each crash test runs `python -m pipeline train` in a subprocess that is killed
with SIGKILL at one write point (`pipeline.faults`), or from outside while it
trains. Then: `latest` still names the last complete run, the same command
completes, finished models are not trained again, and the run passes `verify`.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.config import make_config
from pipeline.console import Console
from pipeline.store import artifacts
from pipeline.workflows.study import train_study
from pipeline.workflows.verify import verify_run

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PER_CLASS = 30
TRAIN_ARGS = {
    "cnn_input_size": 32,
    "cnn_epochs": 3,
    "mobilenet_input_size": 96,
    "frozen_epochs": 2,
    "finetune_epochs": 1,
}


@pytest.fixture(scope="module")
def photos(shared_data, tmp_path_factory) -> Path:
    """A copy of 30 real photos per class (copied so that tests may change them)."""
    root = tmp_path_factory.mktemp("photos")
    for name in ("Cat", "Dog"):
        (root / name).mkdir()
        for src in sorted((shared_data / name).iterdir())[:PER_CLASS]:
            shutil.copy(src, root / name / src.name)
    return root


def _config(data: Path, out: Path, models: tuple[str, ...], weights: Path, **extra):
    return make_config(
        "quick",
        data_dir=str(data),
        out_dir=str(out),
        models=models,
        weights=str(weights),
        **(TRAIN_ARGS | extra),
    )


def _argv(config) -> list[str]:
    argv = [sys.executable, "-m", "pipeline", "train", "--profile", "quick"]
    argv += ["--data-dir", config.data_dir, "--out", config.out_dir, "--weights", config.weights]
    argv += ["--models", *config.models]
    for key in ("cnn_input_size", "cnn_epochs", "mobilenet_input_size", "frozen_epochs"):
        argv += ["--" + key.replace("_", "-"), str(getattr(config, key))]
    argv += ["--finetune-epochs", str(config.finetune_epochs)]
    return argv


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PETCOMPARE_CRASH_AT"}
    return env | {"TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)} | extra


def _crash(config, point: str) -> subprocess.CompletedProcess:
    done = subprocess.run(
        _argv(config),
        cwd=ROOT,
        env=_env(PETCOMPARE_CRASH_AT=point),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == -signal.SIGKILL, (point, done.returncode, done.stderr[-2000:])
    return done


def _rerun(config) -> tuple[artifacts.Run, str]:
    stream = io.StringIO()
    run = train_study(config, Console(stream))
    return run, stream.getvalue()


@pytest.fixture
def baseline(photos, shared_weights, tmp_path) -> tuple[Path, str]:
    """An artifacts folder whose `latest` names one complete run (cnn3 only, seed 1).

    Its photos are cached at another size than the crash tests use, so that their
    pixel cache starts empty.
    """
    out = tmp_path / "art"
    config = _config(
        photos, out, ("cnn3",), shared_weights, cnn_epochs=1, seed=1, cnn_input_size=40
    )
    return out, train_study(config, Console(io.StringIO())).run_id


CRASHES = [
    # (crash point, models, what the rerun must say)
    ("scan:20", ("cnn3",), "Starting run"),
    ("pixels:1", ("cnn3",), "Resuming run"),
    ("features:2", ("mobilenetv2_frozen",), "Resuming run"),
    ("epoch:2", ("cnn3",), "cnn3: resumed after epoch 2 from its checkpoint"),
    ("model-save", ("cnn3",), "Resuming run"),
    ("model-recorded:1", ("cnn3", "cnn4"), "cnn3: already trained in this run, kept"),
    ("run-complete", ("cnn3",), "its publish was cut short"),
    ("latest", ("cnn3",), "its publish was cut short"),
]


@pytest.mark.parametrize("point, models, expected", CRASHES, ids=[c[0] for c in CRASHES])
def test_sigkill_at_each_write_point_loses_nothing(
    point, models, expected, photos, shared_weights, baseline
):
    out, first_id = baseline
    config = _config(photos, out, models, shared_weights)
    _crash(config, point)
    assert artifacts.latest_run(out).run_id == first_id  # latest moves only on completion

    run, log = _rerun(config)
    assert expected in log, log
    assert run.complete and run.run_id != first_id
    assert artifacts.latest_run(out).run_id == run.run_id
    assert verify_run(run) == []
    assert len([r for r in artifacts.list_runs(out) if r.run_id != first_id]) == 1
    if point in ("run-complete", "latest"):
        assert "training" not in log  # nothing was trained again
    for name in run.model_names():
        assert run.history(name).epoch.is_unique
    assert not list((run.path / artifacts.MODELS).glob(".*"))  # no staging or checkpoint left


def test_sigkill_from_outside_mid_training_resumes_at_the_last_finished_epoch(
    photos, shared_weights, tmp_path
):
    config = _config(photos, tmp_path / "art", ("cnn3",), shared_weights, cnn_epochs=40)
    proc = subprocess.Popen(
        _argv(config), cwd=ROOT, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    state = None
    deadline = time.monotonic() + 300
    while state is None and time.monotonic() < deadline and proc.poll() is None:
        found = list((tmp_path / "art" / "runs").glob("*/models/.cnn3.checkpoint/state.json"))
        state = found[0] if found else None
        time.sleep(0.05)
    assert state is not None, proc.stderr.read().decode()[-2000:]
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert artifacts.latest_run(tmp_path / "art") is None
    done = json.loads(state.read_text())["epochs_done"]
    assert 1 <= done < 40

    run, log = _rerun(config)
    assert f"cnn3: resumed after epoch {done} from its checkpoint" in log
    assert run.history("cnn3").epoch.tolist() == list(range(1, 41))
    assert verify_run(run) == []


def test_changed_data_under_a_killed_run_starts_a_new_consistent_run(
    photos, shared_weights, shared_data, tmp_path
):
    data = tmp_path / "data"
    shutil.copytree(photos, data)
    config = _config(data, tmp_path / "art", ("cnn3", "mobilenetv2_frozen"), shared_weights)
    _crash(config, "model-recorded:1")  # cnn3 finished, the MobileNetV2 not
    killed = artifacts.list_runs(tmp_path / "art")[0]
    assert killed.model_names() == ["cnn3"]
    cats = sorted((data / "Cat").iterdir())[:5]
    spares = sorted((shared_data / "Cat").iterdir())[PER_CLASS : PER_CLASS + 5]
    for old, new in zip(cats, spares, strict=True):
        old.unlink()
        shutil.copy(new, data / "Cat" / new.name)

    run, log = _rerun(config)
    assert f"run {killed.run_id} was not resumed: data changed: 5 photo(s) removed, " in log
    assert "5 photo(s) added" in log and "Starting run" in log
    assert run.run_id != killed.run_id
    val = set(run.split().query("split == 'val'").path)
    for name in ("cnn3", "mobilenetv2_frozen"):
        assert set(run.predictions(name).path) == val
    assert verify_run(run) == []


def test_two_concurrent_trains_on_one_folder_both_end_cleanly(photos, shared_weights, tmp_path):
    """The second train waits for the first and then makes its own complete run.

    The first is stopped (SIGSTOP) while it holds the lock, so the second is sure
    to meet it however fast either imports TensorFlow; SIGCONT lets it finish.
    """
    config = _config(photos, tmp_path / "art", ("cnn3",), shared_weights)
    logs = [tmp_path / "first.log", tmp_path / "second.log"]
    first = _train_logged(config, logs[0])
    second = None
    try:
        _wait_for(lambda: (tmp_path / "art" / ".lock-holder.json").exists(), first, logs[0])
        first.send_signal(signal.SIGSTOP)
        second = _train_logged(config, logs[1])
        _wait_for(lambda: "Waiting for `train` (pid" in logs[1].read_text(), second, logs[1])
    finally:
        first.send_signal(signal.SIGCONT)
    for proc, log in zip((first, second), logs, strict=True):
        assert proc.wait(timeout=600) == 0, log.read_text()[-2000:]
        assert "Traceback" not in log.read_text()
    assert f"(pid {first.pid} on" in logs[1].read_text()
    runs = artifacts.list_runs(tmp_path / "art")
    assert len(runs) == 2 and len({r.run_id for r in runs}) == 2
    for run in runs:
        assert run.complete and verify_run(run) == []


def _train_logged(config, log: Path) -> subprocess.Popen:
    with log.open("w") as sink:
        return subprocess.Popen(
            _argv(config), cwd=ROOT, env=_env(), stdout=sink, stderr=subprocess.STDOUT
        )


def _wait_for(condition, proc: subprocess.Popen, log: Path, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, log.read_text()[-2000:]
        assert time.monotonic() < deadline, log.read_text()[-2000:]
        time.sleep(0.05)


def test_no_wait_fails_at_once_while_another_train_runs(photos, shared_weights, tmp_path):
    config = _config(photos, tmp_path / "art", ("cnn3",), shared_weights)
    log = tmp_path / "first.log"
    first = _train_logged(config, log)
    try:
        _wait_for(lambda: (tmp_path / "art" / ".lock-holder.json").exists(), first, log)
        first.send_signal(signal.SIGSTOP)  # holds the lock for as long as the test needs
        second = subprocess.run(
            [*_argv(config), "--no-wait"],
            cwd=ROOT,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        first.kill()
        first.wait()
    assert second.returncode == 2
    assert f"is in use by `train` (pid {first.pid} on" in second.stderr
    assert "Traceback" not in second.stderr


# --- disks that are full or read-only: real file systems (tmpfs), mounted by the test -----


@pytest.fixture
def small_disk(tmp_path):
    """A mounted 200 kB tmpfs; yields (path, remount(options))."""
    mount = tmp_path / "disk"
    mount.mkdir()
    tried = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(mount)], capture_output=True
    )
    if tried.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {tried.stderr.decode().strip()}")

    def remount(options: str) -> None:
        subprocess.run(["mount", "-o", f"remount,{options}", str(mount)], check=True)

    try:
        yield mount, remount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_is_a_plain_error_and_the_rerun_completes(photos, shared_weights, small_disk):
    disk, remount = small_disk
    config = _config(photos, disk / "art", ("mobilenetv2_frozen",), shared_weights)
    done = subprocess.run(_argv(config), cwd=ROOT, env=_env(), capture_output=True, text=True)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "is full" in done.stderr and "Traceback" not in done.stderr
    assert not list((disk / "art" / "cache").rglob(".tmp-*"))  # no half-written shard
    remount("size=64m")
    run, _ = _rerun(config)
    assert run.complete and verify_run(run) == []


def test_a_read_only_artifacts_folder_is_a_plain_error(photos, shared_weights, small_disk):
    disk, remount = small_disk
    remount("ro")
    config = _config(photos, disk / "art", ("cnn3",), shared_weights)
    done = subprocess.run(_argv(config), cwd=ROOT, env=_env(), capture_output=True, text=True)
    assert done.returncode == 2
    assert "read-only file system" in done.stderr and "Traceback" not in done.stderr
