"""A Keras model's forward pass on the engine `pipeline.modeling.engine` chose.

`Forward(model, engine=...)` is called with a float32 batch and returns the model's outputs
as a list of arrays, whichever engine runs it. Both engines get the model as a traced
TensorFlow graph (a concrete function): tf2onnx converts it for ONNX Runtime, and
`openvino.convert_model` for OpenVINO (compiled for the CPU in float32). Converting takes
seconds (MobileNetV2: ~5 s on 2 cores), loading a converted model a tenth of one, so the
converted model is kept under the engine's `cache_dir`, keyed by the model's content (its
layers' settings and weights) and the engine's version.
A model that does not convert (an external model with an unusual layer) runs in TensorFlow
instead, with one line saying so; so does a model that reads cached features rather than
photos, for which a Dense head costs microseconds either way.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import keras
import numpy as np

from pipeline.devices import cpu_threads, gpu_count, predict_on_batch
from pipeline.modeling.engine import (
    ONNXRUNTIME,
    OPENVINO,
    OPENVINO_CONFIG,
    TENSORFLOW,
    Engine,
    choose,
)

# The ONNX opset of converted models and of `export --format onnx`.
ONNX_OPSET = 17


def _image_input(model: keras.Model) -> tuple[int, ...] | None:
    """The model's (height, width, channels) when it takes one batch of images, else None."""
    shape = model.input_shape
    if not isinstance(shape, tuple) or len(shape) != 4 or None in shape[1:]:
        return None
    return tuple(shape[1:])


def engine_for(requested: str, cache_dir: Path | str | None = None) -> Engine:
    """The engine `requested` (one of INFERENCE_CHOICES) gives on this process's devices,
    keeping converted models under `cache_dir` (converted afresh each time when None)."""
    engine = choose(requested, gpus=gpu_count() if requested == "auto" else 0)
    return replace(engine, cache_dir=str(cache_dir) if cache_dir is not None else None)


def content_key(model: keras.Model, engine: Engine) -> str | None:
    """What a converted model depends on: the engine and its version, the input, the layers'
    settings and wiring (the model's own name aside) and every weight; None for a model that
    cannot state its settings (a subclassed one)."""
    try:
        config = model.get_config()
    except NotImplementedError:
        return None
    config.pop("name", None)
    digest = hashlib.sha256()
    digest.update(f"{engine.backend}|{engine.version}|{model.input_shape}|".encode())
    digest.update(json.dumps(config, sort_keys=True, default=str).encode())
    for weight in model.weights:
        digest.update(np.ascontiguousarray(keras.ops.convert_to_numpy(weight)).tobytes())
    return digest.hexdigest()[:24]


def _traced(model: keras.Model):
    import tensorflow as tf

    spec = tf.TensorSpec((None, *_image_input(model)), tf.float32, name="images")
    return tf.function(lambda images: model(images, training=False)), spec


def _kept(model: keras.Model, engine: Engine, *, name: str, convert, save, read):
    """A converted model: read from the engine's cache when converted before, else converted
    and kept there (written under a temporary name and renamed, so no reader sees half)."""
    key = content_key(model, engine) if engine.cache_dir else None
    if key is None:
        return convert()
    folder = Path(engine.cache_dir) / engine.backend / key
    if (folder / name).is_file():
        try:
            return read(folder / name)
        except Exception:  # a damaged file: converted again below, and replaced
            shutil.rmtree(folder, ignore_errors=True)
    converted = convert()
    tmp = folder.with_name(f"{key}.tmp-{os.getpid()}-{threading.get_ident()}")
    try:
        tmp.mkdir(parents=True, exist_ok=True)
        save(converted, tmp / name)
        tmp.rename(folder)
    except (OSError, RuntimeError):  # kept first by another process, or a full disk: not kept
        shutil.rmtree(tmp, ignore_errors=True)
    return converted


def compile_openvino(model: keras.Model, engine: Engine):
    """(run, precision): the model compiled by OpenVINO for the CPU in float32, and a
    thread-safe function from a batch to its outputs (raises when it does not convert)."""
    import openvino as ov

    def convert():
        function, spec = _traced(model)
        return ov.convert_model(function.get_concrete_function(spec))

    converted = _kept(
        model,
        engine,
        name="model.xml",
        convert=convert,
        save=lambda m, path: ov.save_model(m, path, compress_to_fp16=False),  # float32 weights
        read=lambda path: ov.Core().read_model(path),
    )
    config = dict(OPENVINO_CONFIG)
    if os.environ.get("TF_NUM_INTRAOP_THREADS"):  # a Ray worker's share of the cores
        config["INFERENCE_NUM_THREADS"] = cpu_threads()
    compiled = ov.Core().compile_model(converted, "CPU", config)
    requests = threading.local()  # a request is not safe to share between threads

    def run(x: np.ndarray) -> list[np.ndarray]:
        request = getattr(requests, "request", None)
        if request is None:
            request = requests.request = compiled.create_infer_request()
        result = request.infer(x)
        return [np.array(result[port]) for port in compiled.outputs]  # copied out of it

    return run, compiled.get_property("INFERENCE_PRECISION_HINT").to_string()


def compile_onnxruntime(model: keras.Model, engine: Engine):
    """(run, precision): the model converted by tf2onnx and run by ONNX Runtime on the CPU
    (float32 kernels), and a thread-safe function from a batch to its outputs."""
    import onnxruntime as ort
    import tf2onnx

    def convert() -> bytes:
        function, spec = _traced(model)
        proto, _ = tf2onnx.convert.from_function(
            function, input_signature=(spec,), opset=ONNX_OPSET
        )
        return proto.SerializeToString()

    converted = _kept(
        model,
        engine,
        name="model.onnx",
        convert=convert,
        save=lambda data, path: path.write_bytes(data),
        read=lambda path: _checked_onnx(path.read_bytes()),
    )
    options = ort.SessionOptions()
    options.intra_op_num_threads = cpu_threads()
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(converted, options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return (lambda x: session.run(None, {name: x})), "f32"  # InferenceSession.run is thread-safe


def _checked_onnx(data: bytes) -> bytes:
    import onnx

    onnx.checker.check_model(onnx.load_model_from_string(data))
    return data


COMPILERS = {OPENVINO: compile_openvino, ONNXRUNTIME: compile_onnxruntime}
ENGINE_NAMES = {OPENVINO: "OpenVINO", ONNXRUNTIME: "ONNX Runtime"}


class Forward:
    """`Forward(model, engine=engine)(batch)`: the model's outputs for `batch`, as a list.

    Safe to call from several threads at once (the dashboard's sessions)."""

    def __init__(
        self,
        model: keras.Model,
        *,
        engine: Engine | None,
        say: Callable[[str], None] | None = None,
    ):
        self.model = model
        self.backend, self.precision, self.note = TENSORFLOW, "f32", ""
        self._run = None
        if engine is None or engine.backend not in COMPILERS:
            return
        if _image_input(model) is None:
            self.note = "reads features, not photos: TensorFlow runs it"
            return
        try:
            self._run, self.precision = COMPILERS[engine.backend](model, engine)
        except Exception as error:  # each engine raises its own errors for unusual layers
            reason = str(error).strip().splitlines()[0][:200] if str(error).strip() else ""
            who = ENGINE_NAMES[engine.backend]
            self.note = f"{who} could not convert it ({type(error).__name__}: {reason})"
            (say or _stderr)(f"{model.name}: {self.note}; TensorFlow runs it instead.")
            return
        self.backend = engine.backend

    def __call__(self, batch: np.ndarray) -> list[np.ndarray]:
        x = np.asarray(batch, np.float32)
        if self._run is None:
            outputs = predict_on_batch(self.model, x)
            outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
            return [np.asarray(o) for o in outputs]
        return [np.asarray(o) for o in self._run(x)]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
