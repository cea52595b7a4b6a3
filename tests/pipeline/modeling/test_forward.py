"""ONNX Runtime and OpenVINO give TensorFlow's answers: every model kind of a real run (a CNN
with flip averaging, the frozen and the fine-tuned MobileNetV2, an external model) on its
real validation photos; a model an engine cannot convert runs in TensorFlow, saying so."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from pipeline.data.images import load_model_input
from pipeline.modeling import saved_models
from pipeline.modeling.engine import ONNXRUNTIME, OPENVINO, TENSORFLOW, choose
from pipeline.modeling.forward import Forward
from pipeline.modeling.predict import Scorer
from pipeline.store.predictions import predicted_classes

pytest.importorskip("openvino")
pytest.importorskip("onnxruntime")

TOLERANCE = 1e-4
ENGINES = [ONNXRUNTIME, OPENVINO]


def _validation_photos(run, size) -> np.ndarray:
    root = run.manifest["dataset"]["root"]
    val = run.split().query("split == 'val'").sort_values("path")
    return np.stack([load_model_input(f"{root}/{p}", size) for p in val.path]).astype(np.float32)


def _batches(x: np.ndarray, batch: int = 16):
    return (x[i : i + batch] for i in range(0, len(x), batch))


def _agree(model, photos, engine: str) -> tuple[float, int, int]:
    """(largest probability difference, answers that differ, answers within TOLERANCE of the
    threshold) between TensorFlow and `engine`."""
    scorer = Scorer(model, engine=choose(engine))
    p_ov, logit_ov = scorer.score(_batches(photos))
    assert scorer.forward.backend == engine and scorer.forward.precision == "f32"
    p_tf, logit_tf = Scorer(model, engine=None).score(_batches(photos))
    assert p_ov.shape == p_tf.shape and np.isfinite(logit_ov).all()
    assert np.abs(logit_ov - logit_tf).max() < 1e-2
    changed = predicted_classes(p_ov) != predicted_classes(p_tf)
    close = np.abs(p_tf - 0.5) < TOLERANCE if p_tf.ndim == 1 else np.zeros(len(p_tf), bool)
    return float(np.abs(p_ov - p_tf).max()), int(changed.sum()), int((changed & close).sum())


@pytest.mark.integration
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("name", ["cnn3", "cnn4", "mobilenetv2_frozen", "mobilenetv2_finetuned"])
def test_each_engine_answers_every_photo_as_tensorflow_does(real_run, name, engine):
    model = saved_models.load(real_run.model_path(name))
    photos = _validation_photos(real_run, tuple(model.input_shape[1:3]))
    worst, changed, near_threshold = _agree(model, photos, engine)
    assert worst < TOLERANCE, f"{name}: probabilities differ by up to {worst:.2e}"
    assert changed == near_threshold  # only a photo on the threshold may change its answer


def _external_model(classes: int) -> keras.Model:
    """A user's model of plain Keras layers, as one made elsewhere would be."""
    inputs = keras.Input((48, 48, 3))
    x = keras.layers.Rescaling(1 / 127.5, offset=-1)(inputs)
    x = keras.layers.Conv2D(8, 3, activation="relu")(x)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.DepthwiseConv2D(3, activation="relu6")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(classes, activation="softmax")(x)
    return keras.Model(inputs, outputs)


@pytest.mark.integration
@pytest.mark.parametrize("engine", ENGINES)
def test_an_external_model_of_ten_classes_agrees_on_real_photos(engine):
    from pipeline.data.images import load_model_input as load
    from tests.conftest import SHARED_CIFAR as shared_cifar

    keras.utils.set_random_seed(3)
    model = _external_model(10)
    files = (
        sorted((shared_cifar / "airplane").iterdir())[:40]
        + sorted((shared_cifar / "ship").iterdir())[:40]
    )
    photos = np.stack([load(f, (48, 48)) for f in files]).astype(np.float32)
    worst, changed, _ = _agree(model, photos, engine)
    assert worst < TOLERANCE and changed == 0


class Opaque(keras.layers.Layer):
    """A layer that leaves the graph for Python: no converter can follow it."""

    def call(self, x):
        y = tf.numpy_function(lambda a: np.tanh(a), [x], tf.float32, stateful=False)
        return tf.reshape(y, tf.shape(x))


@pytest.mark.parametrize("engine, who", [(ONNXRUNTIME, "ONNX Runtime"), (OPENVINO, "OpenVINO")])
def test_a_model_an_engine_cannot_convert_runs_in_tensorflow_with_one_line(capsys, engine, who):
    inputs = keras.Input((8, 8, 3))
    x = Opaque()(keras.layers.Conv2D(2, 3)(inputs))
    model = keras.Model(
        inputs,
        keras.layers.Dense(1, activation="sigmoid")(keras.layers.Flatten()(x)),
        name="unusual",
    )
    forward = Forward(model, engine=choose(engine))
    err = [line for line in capsys.readouterr().err.strip().splitlines() if "unusual" in line]
    assert forward.backend == TENSORFLOW and len(err) == 1
    assert err[0].startswith(f"unusual: {who} could not convert it")
    assert err[0].endswith("TensorFlow runs it instead.")
    x = np.random.default_rng(0).uniform(0, 255, (5, 8, 8, 3)).astype(np.float32)
    (out,) = forward(x)
    assert np.allclose(out, model.predict_on_batch(x))


@pytest.mark.parametrize("engine", ENGINES)
def test_a_head_on_cached_features_stays_in_tensorflow(engine):
    inputs = keras.Input((1280,))
    head = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(inputs))
    forward = Forward(head, engine=choose(engine))
    assert forward.backend == TENSORFLOW and "reads features" in forward.note


@pytest.mark.parametrize("engine", ENGINES)
def test_several_outputs_come_back_in_the_model_order(engine):
    inputs = keras.Input((16, 16, 3))
    a = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(inputs))
    b = keras.layers.Dense(7)(keras.layers.Flatten()(inputs))
    model = keras.Model(inputs, [b, a])
    x = np.random.default_rng(1).normal(size=(3, 16, 16, 3)).astype(np.float32)
    forward = Forward(model, engine=choose(engine))
    assert forward.backend == engine
    ov_b, ov_a = forward(x)
    tf_b, tf_a = model.predict_on_batch(x)
    assert ov_b.shape == (3, 7) and ov_a.shape == (3, 4)
    assert np.allclose(ov_b, tf_b, atol=1e-5) and np.allclose(ov_a, tf_a, atol=1e-5)


def _small_cnn(seed: int) -> keras.Model:
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((24, 24, 3))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(inputs))
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))


@pytest.mark.parametrize(
    "engine_name, file", [(ONNXRUNTIME, "model.onnx"), (OPENVINO, "model.xml")]
)
def test_a_converted_model_is_kept_by_its_content_and_read_back(tmp_path, engine_name, file):
    from pipeline.modeling.forward import content_key, engine_for

    engine = engine_for(engine_name, cache_dir=tmp_path / "cache")
    model, other = _small_cnn(0), _small_cnn(1)
    saved = tmp_path / "m.keras"
    model.save(saved)
    key = content_key(model, engine)
    assert content_key(keras.models.load_model(saved), engine) == key
    assert content_key(other, engine) != key  # same layers, other weights
    assert content_key(model, engine_for("tensorflow")) != key  # another engine

    x = np.random.default_rng(2).uniform(0, 255, (4, 24, 24, 3)).astype(np.float32)
    (first,) = Forward(model, engine=engine)(x)
    kept = tmp_path / "cache" / engine_name / key / file
    assert kept.is_file() and [p.name for p in kept.parent.parent.iterdir()] == [kept.parent.name]
    (again,) = Forward(keras.models.load_model(saved), engine=engine)(x)
    np.testing.assert_array_equal(again, first)  # the kept file, not a new conversion
    assert np.allclose(first, model.predict_on_batch(x), atol=1e-6)

    good = kept.read_bytes()
    kept.write_bytes(good[: len(good) // 3])  # a damaged file is converted again and replaced
    (mended,) = Forward(model, engine=engine)(x)
    np.testing.assert_array_equal(mended, first)
    assert kept.stat().st_size > len(good) // 3  # whole again (conversions differ in names)


@pytest.mark.parametrize("engine_name", ENGINES)
def test_a_cache_that_cannot_be_written_still_runs_the_engine(tmp_path, engine_name):
    from pipeline.modeling.forward import engine_for

    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    engine = engine_for(engine_name, cache_dir=blocked / "cache")  # mkdir there fails
    model = _small_cnn(3)
    x = np.random.default_rng(4).uniform(0, 255, (2, 24, 24, 3)).astype(np.float32)
    forward = Forward(model, engine=engine)
    (out,) = forward(x)
    assert forward.backend == engine_name
    assert np.allclose(out, model.predict_on_batch(x), atol=1e-6)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]  # nothing half-written
