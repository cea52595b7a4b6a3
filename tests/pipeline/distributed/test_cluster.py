"""Joining Ray: clear errors, thread caps, and no Ray at all without --ray."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.distributed.cluster import connect, remote_args, thread_env
from pipeline.errors import PipelineError

ROOT = Path(__file__).resolve().parents[3]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again when the block ends


def test_every_worker_is_capped_to_its_cpu_share():
    assert thread_env(1) == {
        "TF_NUM_INTRAOP_THREADS": "1",
        "TF_NUM_INTEROP_THREADS": "1",
        "OMP_NUM_THREADS": "1",
    }
    args = remote_args(2, gpus=1)
    assert args["num_cpus"] == 2 and args["num_gpus"] == 1
    assert args["runtime_env"]["env_vars"]["TF_NUM_INTRAOP_THREADS"] == "2"
    assert "num_gpus" not in remote_args(1)


@pytest.mark.parametrize("address", ["localhost", "host:port", ":6379"])
def test_a_malformed_address_is_a_plain_error(address):
    with pytest.raises(PipelineError, match="HOST:PORT"), connect(address):
        pass


def test_an_unreachable_head_fails_fast_and_plainly():
    address = f"127.0.0.1:{_closed_port()}"
    start = time.monotonic()
    message = f"cannot reach the Ray head at {address}"
    with pytest.raises(PipelineError, match=message), connect(address):
        pass
    assert time.monotonic() - start < 30  # Ray alone keeps retrying for minutes


def _cli(*argv: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.parametrize("command", ["train", "sweep"])
def test_the_cli_says_so_when_the_head_is_unreachable(command, tmp_path):
    argv = [command, "--out", str(tmp_path), "--ray", f"127.0.0.1:{_closed_port()}"]
    if command == "sweep":
        argv += ["--set", "cnn_epochs=1,2", "--models", "cnn3"]
    done = _cli(*argv)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert "error: cannot reach the Ray head at 127.0.0.1:" in done.stderr


@pytest.mark.integration
@pytest.mark.parametrize("command", ["evaluate", "analyze"])
def test_evaluate_and_analyze_say_so_when_the_head_is_unreachable(command, real_run):
    out = str(real_run.path.parent.parent)
    done = _cli(command, real_run.run_id, "--out", out, "--ray", f"127.0.0.1:{_closed_port()}")
    assert done.returncode == 2, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert "error: cannot reach the Ray head at 127.0.0.1:" in done.stderr


@pytest.mark.integration
def test_without_ray_the_pipeline_never_imports_it(shared_data, tmp_path):
    script = (
        "import sys\n"
        "from pipeline.__main__ import main\n"
        f"code = main(['train', '--profile', 'quick', '--models', 'cnn3', '--max-per-class', '20',"
        f" '--cnn-epochs', '1', '--cnn-input-size', '32', '--data-dir', {str(shared_data)!r},"
        f" '--out', {str(tmp_path)!r}])\n"
        "print('ray imported' if 'ray' in sys.modules else 'no ray', code)\n"
    )
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.stdout.strip().splitlines()[-1] == "no ray 0", done.stderr[-2000:]
