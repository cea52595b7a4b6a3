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
from pipeline.modeling.engine import ONNXRUNTIME, OPENVINO, TENSORFLOW, choose

openvino = pytest.importorskip("openvino")
onnxruntime = pytest.importorskip("onnxruntime")


def test_tensorflow_when_asked_or_on_a_gpu_host_and_the_faster_engine_otherwise():
    assert choose("tensorflow").backend == TENSORFLOW
    on_gpu = choose("auto", gpus=2)
    assert on_gpu.backend == TENSORFLOW and "2 GPU(s)" in on_gpu.reason
    chosen = choose("auto")
    assert chosen.backend == ONNXRUNTIME and chosen.version == onnxruntime.__version__
    asked = choose("openvino", gpus=1)  # asked for: even beside a GPU
    assert asked.backend == OPENVINO and asked.version == openvino.get_version()


def test_an_unknown_engine_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="auto, tensorflow, onnxruntime, openvino"):
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


BROKEN = {
    "missing": "raise ImportError('libonnxruntime.so: cannot open shared object file', name='x')",
    "crashing": "raise RuntimeError('Check failed: plugins.xml is corrupted')",
    "no CPU": "class Core:\n    available_devices = property(lambda self: ['GPU'])\n"
    "def get_version():\n    return 'x'",
}


def _choose_with(tmp_path, packages: dict[str, str], requested: str = "auto") -> dict:
    """choose(requested) in a real subprocess whose path puts `packages` (name -> the code of
    its __init__) before the installed ones."""
    for name, code in packages.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(textwrap.dedent(code) + "\n")
    script = CHOOSE.replace("'auto'", repr(requested))
    env = os.environ | {"PYTHONPATH": f"{tmp_path}{os.pathsep}{PROJECT_ROOT}"}
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_without_onnx_runtime_auto_is_openvino_and_says_why(tmp_path):
    record = _choose_with(tmp_path, {"onnxruntime": BROKEN["missing"]})
    assert record["backend"] == OPENVINO
    assert "ONNX Runtime or tf2onnx is not installed" in record["reason"]


@pytest.mark.parametrize("openvino_is", ["missing", "crashing", "no CPU"])
def test_with_neither_engine_working_it_is_tensorflow_with_the_reasons(tmp_path, openvino_is):
    packages = {"onnxruntime": BROKEN["crashing"], "openvino": BROKEN[openvino_is]}
    record = _choose_with(tmp_path, packages)
    assert record["backend"] == TENSORFLOW and record["version"] is None
    assert "ONNX Runtime does not import: RuntimeError" in record["reason"]
    expected = {
        "missing": "OpenVINO is not installed",
        "crashing": "OpenVINO does not import: RuntimeError",
        "no CPU": "OpenVINO offers no CPU device",
    }[openvino_is]
    assert expected in record["reason"]


def test_an_engine_asked_for_but_broken_means_tensorflow(tmp_path):
    record = _choose_with(tmp_path, {"openvino": BROKEN["crashing"]}, requested="openvino")
    assert record["backend"] == TENSORFLOW and "OpenVINO does not import" in record["reason"]
