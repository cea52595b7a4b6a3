"""A Keras model's forward pass on the engine `pipeline.modeling.engine` chose.

`Forward(model, engine=...)` is called with a float32 batch and returns the model's outputs
as a list of arrays, whichever engine runs it. OpenVINO gets the model as a traced TensorFlow
graph (`openvino.convert_model` on a concrete function), compiled for the CPU in float32.
Converting takes seconds (MobileNetV2: ~5 s on 2 cores), compiling a converted model a tenth
of one, so the converted model is kept under the engine's `cache_dir`, keyed by the model's
content (its layers' settings and weights) and OpenVINO's version.
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
from pipeline.modeling.engine import OPENVINO, OPENVINO_CONFIG, TENSORFLOW, Engine, choose


def _image_input(model: keras.Model) -> tuple[int, ...] | None:
    """The model's (height, width, channels) when it takes one batch of images, else None."""
    shape = model.input_shape
    if not isinstance(shape, tuple) or len(shape) != 4 or None in shape[1:]:
        return None
    return tuple(shape[1:])


def engine_for(requested: str, cache_dir: Path | str | None = None) -> Engine:
    """The engine `requested` ("auto", "tensorflow", "openvino") gives on this process's
    devices, keeping converted models under `cache_dir` (converted afresh each time when
    None)."""
    engine = choose(requested, gpus=gpu_count() if requested == "auto" else 0)
    return replace(engine, cache_dir=str(cache_dir) if cache_dir is not None else None)


def content_key(model: keras.Model) -> str | None:
    """What the converted model depends on: OpenVINO's version, the input, the layers'
    settings and wiring (the model's own name aside) and every weight; None for a model that
    cannot state its settings (a subclassed one)."""
    import openvino as ov

    try:
        config = model.get_config()
    except NotImplementedError:
        return None
    config.pop("name", None)
    digest = hashlib.sha256()
    digest.update(f"{ov.get_version()}|{model.input_shape}|".encode())
    digest.update(json.dumps(config, sort_keys=True, default=str).encode())
    for weight in model.weights:
        digest.update(np.ascontiguousarray(keras.ops.convert_to_numpy(weight)).tobytes())
    return digest.hexdigest()[:24]


def _convert(model: keras.Model):
    import openvino as ov
    import tensorflow as tf

    spec = tf.TensorSpec((None, *_image_input(model)), tf.float32)
    traced = tf.function(lambda x: model(x, training=False)).get_concrete_function(spec)
    return ov.convert_model(traced)


def _converted(model: keras.Model, cache_dir: str | None):
    """The OpenVINO model: read from `cache_dir` when converted before, else converted (and
    kept there, written under a temporary name and renamed, so a reader never sees half)."""
    import openvino as ov

    key = content_key(model) if cache_dir else None
    if key is None:
        return _convert(model)
    folder = Path(cache_dir) / "openvino" / key
    if (folder / "model.xml").is_file():
        try:
            return ov.Core().read_model(folder / "model.xml")
        except Exception:  # a damaged file: converted again below, and replaced
            shutil.rmtree(folder, ignore_errors=True)
    converted = _convert(model)
    tmp = folder.with_name(f"{key}.tmp-{os.getpid()}-{threading.get_ident()}")
    tmp.mkdir(parents=True, exist_ok=True)
    ov.save_model(converted, tmp / "model.xml", compress_to_fp16=False)  # float32 weights
    try:
        tmp.rename(folder)
    except OSError:  # another process kept the same model first
        shutil.rmtree(tmp, ignore_errors=True)
    return converted


def compile_openvino(model: keras.Model, cache_dir: str | None = None):
    """The model compiled by OpenVINO for the CPU, in float32 (raises when it does not
    convert)."""
    import openvino as ov

    config = dict(OPENVINO_CONFIG)
    if os.environ.get("TF_NUM_INTRAOP_THREADS"):  # a Ray worker's share of the cores
        config["INFERENCE_NUM_THREADS"] = cpu_threads()
    return ov.Core().compile_model(_converted(model, cache_dir), "CPU", config)


class Forward:
    """`Forward(model, engine=engine)(batch)`: the model's outputs for `batch`, as a list.

    Safe to call from several threads at once (the dashboard's sessions): each thread gets
    its own OpenVINO request, and the outputs are copied out of it."""

    def __init__(
        self,
        model: keras.Model,
        *,
        engine: Engine | None,
        say: Callable[[str], None] | None = None,
    ):
        self.model = model
        self.backend, self.precision, self.note = TENSORFLOW, "f32", ""
        self._compiled = None
        self._requests = threading.local()  # one OpenVINO request per calling thread
        if engine is None or engine.backend != OPENVINO:
            return
        if _image_input(model) is None:
            self.note = "reads features, not photos: TensorFlow runs it"
            return
        try:
            self._compiled = compile_openvino(model, engine.cache_dir)
        except Exception as error:  # OpenVINO raises its own errors for unsupported layers
            reason = str(error).strip().splitlines()[0][:200] if str(error).strip() else ""
            self.note = f"OpenVINO could not convert it ({type(error).__name__}: {reason})"
            (say or _stderr)(f"{model.name}: {self.note}; TensorFlow runs it instead.")
            return
        self.backend = OPENVINO
        self.precision = self._compiled.get_property("INFERENCE_PRECISION_HINT").to_string()

    def __call__(self, batch: np.ndarray) -> list[np.ndarray]:
        x = np.asarray(batch, np.float32)
        if self._compiled is None:
            outputs = predict_on_batch(self.model, x)
            outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
            return [np.asarray(o) for o in outputs]
        request = getattr(self._requests, "request", None)
        if request is None:  # a request is not safe to share between threads (sessions)
            request = self._requests.request = self._compiled.create_infer_request()
        result = request.infer(x)
        return [np.array(result[port]) for port in self._compiled.outputs]

    def record(self) -> dict:
        return {"backend": self.backend, "precision": self.precision, "note": self.note}


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
