"""Which engine runs the forward-only passes (feature extraction, scoring, the live page).

On CPUs OpenVINO runs MobileNetV2 about 2.7x faster than TensorFlow on an AVX2 host (see
docs/inference.md), so "auto" picks it when it is installed and has a CPU device, and
TensorFlow otherwise: on a GPU, without OpenVINO, or with a broken install. The reason is
recorded in the run's manifest. Training and Grad-CAM (which need gradients) always run in
TensorFlow. `pipeline.modeling.forward` compiles a model for the engine chosen here and falls
back to TensorFlow, per model, when a model does not convert.

OpenVINO is asked for float32 arithmetic: on a CPU with bfloat16 it would otherwise choose
bfloat16 by itself, and its answers would stop matching TensorFlow's.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from pipeline.config import INFERENCE_CHOICES

TENSORFLOW, OPENVINO = "tensorflow", "openvino"
# Float32, as TensorFlow computes; LATENCY (one stream using every core) measured 2.1x the
# photos/s of THROUGHPUT on a 2-core host with batches of 16.
OPENVINO_CONFIG = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32"}


@dataclass(frozen=True)
class Engine:
    requested: str
    backend: str  # TENSORFLOW or OPENVINO
    reason: str
    version: str | None = None  # OpenVINO's, when it runs
    # Where converted models are kept, keyed by their content (`pipeline.modeling.forward`).
    cache_dir: str | None = None

    def record(self) -> dict:
        """What a manifest keeps: the engine and why, not where this host caches."""
        return {k: v for k, v in asdict(self).items() if k != "cache_dir"}


def _openvino() -> tuple[str | None, str]:
    """(OpenVINO's version, "") when it imports and offers a CPU device, else (None, why not)."""
    try:
        import openvino as ov
    except ImportError:
        return None, "OpenVINO is not installed"
    except Exception as error:  # a broken install raises anything from its native code
        return None, f"OpenVINO does not import: {type(error).__name__}: {error}"
    try:
        devices = ov.Core().available_devices
    except Exception as error:
        return None, f"OpenVINO does not start: {type(error).__name__}: {error}"
    if "CPU" not in devices:
        return None, f"OpenVINO offers no CPU device (only {devices})"
    return ov.get_version(), ""


def choose(requested: str = "auto", *, gpus: int = 0) -> Engine:
    """The engine for `requested` ("auto", "tensorflow" or "openvino") on a host with `gpus`."""
    if requested not in INFERENCE_CHOICES:
        choices = ", ".join(INFERENCE_CHOICES)
        raise ValueError(f"--inference must be one of {choices} (got {requested!r})")
    if requested == TENSORFLOW:
        return Engine(requested, TENSORFLOW, "asked for")
    if requested == "auto" and gpus:
        return Engine(requested, TENSORFLOW, f"{gpus} GPU(s): TensorFlow runs on them")
    version, why_not = _openvino()
    if version is None:
        return Engine(requested, TENSORFLOW, why_not)
    reason = "asked for" if requested == OPENVINO else "installed, with a CPU device"
    return Engine(requested, OPENVINO, reason, version)
