"""`python -m pipeline export RUN`: each model as a file that runs without this project.

The `.keras` files stay the record of a run, but a CNN's needs this project's code to load
(its flip averaging is a layer of ours). An export is the traced forward pass instead, with
one contract for every model and format: RGB photos at the model's size, values 0-255,
in; one probability per class, in the run's class order, out.

- `savedmodel`: a TensorFlow SavedModel; signature `serving_default` takes float32, `uint8`
  takes uint8. TensorFlow Serving, TFLite converters and `tf.saved_model.load` read it.
- `openvino`: an OpenVINO IR (`model.xml` + `model.bin`, float32 weights).
- `onnx`: an ONNX model (via tf2onnx), for ONNX Runtime and most other engines; a model that
  does not convert is reported and skipped.

Every export goes to `<artifacts>/exports/<run id>/<model>/<format>/` (outside the run, so
`verify` is unaffected) with a README and `classes.json`. It is written under a temporary
name and renamed when complete; an existing export is kept unless `force`.
"""

from __future__ import annotations

import json
import os
import shutil
import textwrap
from pathlib import Path

from pipeline import faults
from pipeline.config import EXPORT_FORMATS
from pipeline.console import Console
from pipeline.data.images import RESAMPLE
from pipeline.errors import PipelineError
from pipeline.modeling import saved_models
from pipeline.modeling.forward import ONNX_OPSET
from pipeline.registry import spec
from pipeline.store import artifacts

FORMATS = EXPORT_FORMATS
EXPORTS = "exports"
INPUT_NAME = "images"

LOADING = {
    "savedmodel": """import numpy as np, tensorflow as tf
model = tf.saved_model.load("{folder}")
photos = np.zeros((1, {h}, {w}, 3), np.uint8)  # RGB at {h}x{w}, values 0-255
probabilities = model.signatures["uint8"](images=photos)["probabilities"].numpy()
print(probabilities)  # one column per class, in classes.json order""",
    "openvino": """import numpy as np, openvino as ov
model = ov.Core().compile_model("{folder}/model.xml", "CPU")
photos = np.zeros((1, {h}, {w}, 3), np.float32)  # RGB at {h}x{w}, values 0-255
probabilities = model(photos)[0]
print(probabilities)  # one column per class, in classes.json order""",
    "onnx": """import numpy as np, onnxruntime as ort
session = ort.InferenceSession("{folder}/model.onnx")
photos = np.zeros((1, {h}, {w}, 3), np.float32)  # RGB at {h}x{w}, values 0-255
probabilities = session.run(None, {{"images": photos}})[0]
print(probabilities)  # one column per class, in classes.json order""",
}


def exports_dir(run: artifacts.Run) -> Path:
    """Where the run's exports go by default: beside the runs, not inside one."""
    return run.path.parent.parent / EXPORTS / run.run_id


def probabilities_function(model):
    """A tf.function from float32 photos (n, H, W, 3) to (n, classes) probabilities: a
    one-sigmoid model's P(second class) becomes the two columns [1 - p, p]."""
    import tensorflow as tf

    def probabilities(images):
        p = tf.cast(model(images, training=False), tf.float32)
        if p.shape[-1] == 1:
            p = tf.concat([1.0 - p, p], axis=-1)
        return {"probabilities": p}

    return tf.function(probabilities)


def _spec(model, dtype):
    import tensorflow as tf

    return tf.TensorSpec((None, *model.input_shape[1:]), dtype, name=INPUT_NAME)


def write_savedmodel(model, target: Path) -> None:
    import keras
    import tensorflow as tf

    forward = probabilities_function(model)
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serve", forward, input_signature=[_spec(model, tf.float32)])
    archive.add_endpoint(
        "uint8",
        tf.function(lambda images: forward(tf.cast(images, tf.float32))),
        input_signature=[_spec(model, tf.uint8)],
    )
    archive.write_out(str(target), verbose=False)


def write_openvino(model, target: Path) -> None:
    import openvino as ov
    import tensorflow as tf

    traced = probabilities_function(model).get_concrete_function(_spec(model, tf.float32))
    converted = ov.convert_model(traced)
    converted.inputs[0].get_node().set_friendly_name(INPUT_NAME)
    target.mkdir(parents=True)
    ov.save_model(converted, target / "model.xml", compress_to_fp16=False)


def write_onnx(model, target: Path) -> None:
    import tensorflow as tf
    import tf2onnx

    target.mkdir(parents=True)
    tf2onnx.convert.from_function(
        probabilities_function(model),
        input_signature=(_spec(model, tf.float32),),
        opset=ONNX_OPSET,
        output_path=str(target / "model.onnx"),
    )


WRITERS = {"savedmodel": write_savedmodel, "openvino": write_openvino, "onnx": write_onnx}


def readme(run: artifacts.Run, name: str, fmt: str, *, size: tuple[int, int]) -> str:
    """The export's README: what it is, its input and output, and how to load it."""
    h, w = size
    classes = ", ".join(f"{i}: {c}" for i, c in enumerate(run.class_names))
    dtypes = (
        "uint8 through the `uint8` signature, float32 through `serving_default`"
        if fmt == "savedmodel"
        else "float32"
    )
    paragraphs = [
        f"From run `{run.run_id}` (model `{name}`), exported by `python -m pipeline export`. "
        "It runs without the project that trained it.",
        f"- **Input** `{INPUT_NAME}`: a batch of RGB photos, shape (n, {h}, {w}, 3), values "
        f"0-255 ({dtypes}). The model scales them itself. To get the run's answers exactly, "
        "turn each photo upright by its EXIF orientation, then resize it to "
        f"{w}x{h} (width x height, aspect ratio not kept) with {RESAMPLE.name.lower()} "
        "resampling, as the run did.",
        f"- **Output** `probabilities`: shape (n, {len(run.class_names)}), one column per class "
        f"in this order: {classes} (also in `classes.json`).",
    ]
    handoff = (
        f"Which file to hand to whom: this export to anyone who serves or runs the model "
        f"({_who(fmt)}); the run's `models/{name}/model.keras` to someone who will train it "
        "further with this project."
    )
    wrapped = [
        textwrap.fill(p, 92, subsequent_indent="  " if p[0] == "-" else "") for p in paragraphs
    ]
    example = LOADING[fmt].format(folder=".", h=h, w=w)
    return (
        f"# {spec(name).label}: {fmt}\n\n{wrapped[0]}\n\n{wrapped[1]}\n{wrapped[2]}\n\n"
        f"Loading it (from this folder):\n\n```python\n{example}\n```\n\n"
        f"{textwrap.fill(handoff, 92)}\n"
    )


def _who(fmt: str) -> str:
    return {
        "savedmodel": "TensorFlow, TensorFlow Serving, a TFLite converter",
        "openvino": "OpenVINO on Intel and AMD CPUs, Intel GPUs and NPUs",
        "onnx": "ONNX Runtime, or any engine that reads ONNX",
    }[fmt]


def _publish(tmp: Path, target: Path, *, force: bool) -> None:
    """Put a complete export in place: renamed in, the old one (with `force`) removed after."""
    old = None
    if target.exists():
        old = target.with_name(f"{target.name}.old-{os.getpid()}")
        target.rename(old)
    tmp.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _remove_abandoned(folder: Path, fmt: str) -> None:
    """Half-written exports of processes that died (killed mid-export), and this one's."""
    for tmp in folder.glob(f".{fmt}.tmp-*") if folder.is_dir() else []:
        pid = tmp.name.rsplit("-", 1)[-1]
        if pid.isdigit() and (int(pid) == os.getpid() or not _alive(int(pid))):
            shutil.rmtree(tmp, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def export_model(
    run: artifacts.Run, name: str, fmt: str, *, to: Path, force: bool = False, model=None
) -> Path:
    """One model in one format under `to/<name>/<fmt>/`; returns that folder."""
    target = to / name / fmt
    if target.exists() and not force:
        raise PipelineError(f"{target} already exists: pass --force to replace it")
    model = model if model is not None else saved_models.load(run.model_path(name))
    tmp = target.with_name(f".{fmt}.tmp-{os.getpid()}")
    _remove_abandoned(target.parent, fmt)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    try:
        WRITERS[fmt](model, tmp)
        size = tuple(model.input_shape[1:3])
        (tmp / "README.md").write_text(readme(run, name, fmt, size=size))
        (tmp / "classes.json").write_text(json.dumps(run.class_names, indent=1) + "\n")
        faults.point("export")
        _publish(tmp, target, force=force)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def export_run(
    run: artifacts.Run,
    *,
    names: list[str] | None = None,
    formats: tuple[str, ...] = ("savedmodel",),
    to: Path | None = None,
    force: bool = False,
    log: Console | None = None,
) -> dict[str, dict[str, str]]:
    """Every model of `names` (all the run's by default) in every one of `formats`;
    returns model -> format -> the folder, or why it was skipped."""
    log = log or Console()
    names = names or run.model_names()
    unknown = sorted(set(names) - set(run.model_names()))
    if unknown:
        raise PipelineError(
            f"run {run.run_id} has no model {', '.join(unknown)}; it has "
            f"{', '.join(run.model_names())}"
        )
    bad = sorted(set(formats) - set(FORMATS))
    if bad:
        raise PipelineError(f"unknown format {', '.join(bad)}; choose from {', '.join(FORMATS)}")
    to = to or exports_dir(run)
    done: dict[str, dict[str, str]] = {}
    for name in names:
        model = saved_models.load(run.model_path(name))
        for fmt in formats:
            try:
                folder = export_model(run, name, fmt, to=to, force=force, model=model)
            except PipelineError:
                raise
            except Exception as error:  # a converter's own error: this format is skipped
                reason = f"{type(error).__name__}: {str(error).strip().splitlines()[0][:200]}"
                log(f"{name}: no {fmt} export, the converter failed ({reason})")
                done.setdefault(name, {})[fmt] = f"skipped: {reason}"
                continue
            log(f"{name}: {fmt} -> {folder}")
            done.setdefault(name, {})[fmt] = str(folder)
    return done
