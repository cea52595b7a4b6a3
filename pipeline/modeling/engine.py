"""Which engine runs the forward-only passes (feature extraction, scoring, the live page).

Measured on a 2-core AVX2 host (docs/inference.md): MobileNetV2 at 224 px ran ~3.3x
TensorFlow's photos/s under ONNX Runtime and ~2.5x under OpenVINO, with the same answers
within 1e-5. So "auto" picks ONNX Runtime when it (and tf2onnx, which converts the models)
is installed, else OpenVINO when it is installed and has a CPU device, else TensorFlow: on a
GPU host, without either, or with a broken install. The reason is recorded in the run's
manifest. Training and Grad-CAM (which need gradients) always run in TensorFlow.
`pipeline.modeling.forward` compiles a model for the engine chosen here and falls back to
TensorFlow, per model, when a model does not convert.

Both engines compute in float32: ONNX Runtime's CPU kernels always do, and OpenVINO is asked
to (on a CPU with bfloat16 it would choose bfloat16 by itself, and its answers would stop
matching TensorFlow's).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from pipeline.config import INFERENCE_CHOICES

TENSORFLOW, OPENVINO, ONNXRUNTIME = "tensorflow", "openvino", "onnxruntime"
# Float32, as TensorFlow computes; LATENCY (one stream using every core) measured 2.1x the
# photos/s of THROUGHPUT on a 2-core host with batches of 16.
OPENVINO_CONFIG = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32"}


@dataclass(frozen=True)
class Engine:
    requested: str
    backend: str  # TENSORFLOW, ONNXRUNTIME or OPENVINO
    reason: str
    version: str | None = None  # the engine's, when it is not TensorFlow
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


def _onnxruntime() -> tuple[str | None, str]:
    """(ONNX Runtime's version, "") when it and tf2onnx import, else (None, why not)."""
    try:
        import onnxruntime
        import tf2onnx  # noqa: F401  (converts the models)
    except ImportError as error:
        return None, f"ONNX Runtime or tf2onnx is not installed ({error.name})"
    except Exception as error:  # a broken install raises anything from its native code
        return None, f"ONNX Runtime does not import: {type(error).__name__}: {error}"
    return onnxruntime.__version__, ""


FINDERS = {ONNXRUNTIME: _onnxruntime, OPENVINO: _openvino}


def choose(requested: str = "auto", *, gpus: int = 0) -> Engine:
    """The engine for `requested` (one of INFERENCE_CHOICES) on a host with `gpus`."""
    if requested not in INFERENCE_CHOICES:
        choices = ", ".join(INFERENCE_CHOICES)
        raise ValueError(f"--inference must be one of {choices} (got {requested!r})")
    if requested == TENSORFLOW:
        return Engine(requested, TENSORFLOW, "asked for")
    if requested == "auto" and gpus:
        return Engine(requested, TENSORFLOW, f"{gpus} GPU(s): TensorFlow runs on them")
    reasons = []
    for backend in (ONNXRUNTIME, OPENVINO) if requested == "auto" else (requested,):
        version, why_not = FINDERS[backend]()
        if version is not None:
            reason = "asked for" if requested == backend else "installed (the faster on CPUs)"
            if backend == OPENVINO and requested == "auto":
                reason = f"installed, with a CPU device; {reasons[0]}"
            return Engine(requested, backend, reason, version=version)
        reasons.append(why_not)
    return Engine(requested, TENSORFLOW, "; ".join(reasons))
