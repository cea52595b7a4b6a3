"""Exports run without this project: each is loaded in a subprocess that cannot import it,
answers real validation photos as the run's saved model did, and is written whole or not
at all (a real SIGKILL mid-export leaves no export behind)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from pipeline.config import PROJECT_ROOT
from pipeline.data.images import load_model_input
from pipeline.errors import PipelineError
from pipeline.faults import ENV as CRASH_AT
from pipeline.store.predictions import as_matrix, probabilities_of
from pipeline.workflows.export import export_model, export_run, exports_dir

pytestmark = pytest.mark.integration
pytest.importorskip("onnxruntime")

AGREE = 1e-4
PHOTOS = 24

# Runs with `python -I` in an empty folder: neither this checkout nor PYTHONPATH is on the
# path, and the script proves it before loading anything.
LOADER = textwrap.dedent(
    """
    import importlib.util, json, sys
    import numpy as np
    assert importlib.util.find_spec("pipeline") is None, "the project is importable"
    fmt, folder, photos, out = sys.argv[1:]
    x = np.load(photos)
    if fmt == "savedmodel":
        import tensorflow as tf
        model = tf.saved_model.load(folder)
        p = model.signatures["uint8"](images=x)["probabilities"].numpy()
        p32 = model.signatures["serving_default"](images=x.astype(np.float32))
        assert np.array_equal(p, p32["probabilities"].numpy())
    elif fmt == "openvino":
        import openvino as ov
        p = ov.Core().compile_model(folder + "/model.xml", "CPU")(x.astype(np.float32))[0]
    else:
        import onnxruntime as ort
        session = ort.InferenceSession(folder + "/model.onnx")
        p = session.run(None, {"images": x.astype(np.float32)})[0]
    np.save(out, p)
    json.dump(sorted(m for m in sys.modules if m.split(".")[0] in ("pipeline", "dashboard")),
              sys.stdout)
    """
)


def _photos(run, size) -> tuple[np.ndarray, list[str]]:
    root = Path(run.manifest["dataset"]["root"])
    val = run.split().query("split == 'val'").sort_values("path").head(PHOTOS)
    return np.stack([load_model_input(root / p, size) for p in val.path]), list(val.path)


def _stored(run, name: str, paths: list[str]) -> np.ndarray:
    """The run's own answers for `paths`, one column per class."""
    frame = run.predictions(name).set_index("path").loc[paths]
    return as_matrix(probabilities_of(frame, run.class_names))


def _load_elsewhere(tmp_path: Path, fmt: str, *, folder: Path, photos: np.ndarray) -> np.ndarray:
    work = tmp_path / f"elsewhere-{fmt}"
    work.mkdir()
    (work / "load.py").write_text(LOADER)
    np.save(work / "photos.npy", photos)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-I", "load.py", fmt, str(folder), "photos.npy", "p.npy"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []  # nothing of ours loaded
    return np.load(work / "p.npy")


@pytest.mark.parametrize("name", ["cnn3", "mobilenetv2_finetuned"])
def test_every_format_answers_as_the_saved_model_without_the_project(real_run, tmp_path, name):
    done = export_run(
        real_run, names=[name], formats=("savedmodel", "openvino", "onnx"), to=tmp_path / "x"
    )
    size = tuple(real_run.model_record(name)["input_size"])
    photos, paths = _photos(real_run, size)
    expected = _stored(real_run, name, paths)
    for fmt, folder in done[name].items():
        assert not folder.startswith("skipped"), (fmt, folder)
        got = _load_elsewhere(tmp_path, fmt, folder=Path(folder), photos=photos)
        assert got.shape == expected.shape
        assert np.abs(got - expected).max() < AGREE, fmt
        readme = " ".join((Path(folder) / "README.md").read_text().split())  # unwrapped
        assert "0: Cat, 1: Dog" in readme and f"(n, {size[0]}, {size[1]}, 3)" in readme
        assert json.loads((Path(folder) / "classes.json").read_text()) == real_run.class_names


def test_a_ten_class_model_exports_ten_columns_in_class_order(cifar10_run, tmp_path):
    name = "cnn3"
    folder = export_model(cifar10_run, name, "openvino", to=tmp_path / "x")
    size = tuple(cifar10_run.model_record(name)["input_size"])
    photos, paths = _photos(cifar10_run, size)
    got = _load_elsewhere(tmp_path, "openvino", folder=folder, photos=photos)
    expected = _stored(cifar10_run, name, paths)
    assert got.shape == (len(photos), 10) and np.abs(got - expected).max() < AGREE


def test_an_existing_export_is_kept_unless_forced(real_run, tmp_path):
    first = export_model(real_run, "cnn3", "savedmodel", to=tmp_path)
    (first / "mine.txt").write_text("a note of the user's")
    with pytest.raises(PipelineError, match="already exists: pass --force"):
        export_model(real_run, "cnn3", "savedmodel", to=tmp_path)
    assert (first / "mine.txt").is_file()
    again = export_model(real_run, "cnn3", "savedmodel", to=tmp_path, force=True)
    assert again == first and not (first / "mine.txt").exists()
    assert sorted(p.name for p in tmp_path.joinpath("cnn3").iterdir()) == ["savedmodel"]


def test_unknown_models_and_formats_are_refused_with_what_there_is(real_run, tmp_path):
    with pytest.raises(PipelineError, match="has no model resnet; it has cnn3, cnn4"):
        export_run(real_run, names=["resnet"], to=tmp_path)
    with pytest.raises(PipelineError, match="choose from savedmodel, openvino, onnx"):
        export_run(real_run, formats=("tflite",), to=tmp_path)
    assert exports_dir(real_run) == real_run.path.parent.parent / "exports" / real_run.run_id


def test_an_export_killed_before_it_is_complete_leaves_nothing_behind(real_run, tmp_path):
    command = [
        sys.executable,
        "-m",
        "pipeline",
        "export",
        str(real_run.path),
        "--models",
        "cnn3",
        "--format",
        "openvino",
        "--to",
        str(tmp_path),
    ]
    env = os.environ | {CRASH_AT: "export", "PYTHONPATH": str(PROJECT_ROOT)}
    killed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert killed.returncode == -signal.SIGKILL
    assert not (tmp_path / "cnn3" / "openvino").exists()  # only the temporary folder was written
    assert [p.name.split("-")[0] for p in (tmp_path / "cnn3").iterdir()] == [".openvino.tmp"]
    env.pop(CRASH_AT)
    subprocess.run(command, env=env, check=True, capture_output=True, timeout=600)
    assert [p.name for p in (tmp_path / "cnn3").iterdir()] == ["openvino"]  # the dead one's gone
    assert (tmp_path / "cnn3" / "openvino" / "model.xml").is_file()
