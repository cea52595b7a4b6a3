"""Which engine runs the forward passes: asked for, on a GPU host, and with OpenVINO missing
or broken (a real broken package on the path of a real subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from pipeline.config import PROJECT_ROOT, make_config
from pipeline.modeling.engine import OPENVINO, TENSORFLOW, choose

openvino = pytest.importorskip("openvino")


def test_tensorflow_when_asked_or_on_a_gpu_host_and_openvino_otherwise():
    assert choose("tensorflow").backend == TENSORFLOW
    on_gpu = choose("auto", gpus=2)
    assert on_gpu.backend == TENSORFLOW and "2 GPU(s)" in on_gpu.reason
    chosen = choose("auto")
    assert chosen.backend == OPENVINO and chosen.version == openvino.get_version()
    assert choose("openvino", gpus=1).backend == OPENVINO  # asked for: even beside a GPU


def test_an_unknown_engine_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="auto, tensorflow, openvino"):
        choose("onnx")
    with pytest.raises(ValueError, match="--inference must be one of"):
        make_config("quick", inference="fast")


def test_the_engine_is_not_part_of_the_run_identity():
    config = make_config("quick")
    assert config.replace(inference="tensorflow").fingerprint() == config.fingerprint()


CHOOSE = (
    "import json; from pipeline.modeling.engine import choose; "
    "print(json.dumps(choose('auto').record()))"
)


@pytest.mark.parametrize(
    "package, reason",
    [
        (
            "raise ImportError('libopenvino.so.2026: cannot open shared object file')",
            "not installed",
        ),
        ("raise RuntimeError('Check failed: plugins.xml is corrupted')", "does not import"),
        (
            "class Core:\n    available_devices = property(lambda self: ['GPU'])\n"
            "def get_version():\n    return 'x'",
            "offers no CPU device",
        ),
    ],
)
def test_a_missing_or_broken_openvino_means_tensorflow_with_the_reason(tmp_path, package, reason):
    fake = tmp_path / "openvino"
    fake.mkdir()
    (fake / "__init__.py").write_text(textwrap.dedent(package) + "\n")
    env = os.environ | {"PYTHONPATH": f"{tmp_path}{os.pathsep}{PROJECT_ROOT}"}
    out = subprocess.run(
        [sys.executable, "-c", CHOOSE], env=env, capture_output=True, text=True, check=True
    )
    record = json.loads(out.stdout.strip().splitlines()[-1])
    assert record["backend"] == TENSORFLOW and record["version"] is None
    assert reason in record["reason"]
