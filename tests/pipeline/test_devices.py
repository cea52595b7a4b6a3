"""Device-aware input settings, and one model trained under MirroredStrategy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pipeline import devices

ROOT = Path(__file__).resolve().parents[2]


def test_on_cpus_the_input_pipeline_leaves_the_cores_to_the_model(monkeypatch):
    monkeypatch.delenv("TF_NUM_INTRAOP_THREADS", raising=False)
    settings = devices.input_settings(16)
    assert settings.device == "cpu" and settings.gpus == 0
    assert not settings.autotune and settings.prefetch == 2 and settings.inference_batch == 16
    assert settings.cpu_threads == os.cpu_count()
    assert settings.record()["device"] == "cpu"
    options = devices.dataset_options()
    assert options.threading.private_threadpool_size == os.cpu_count()
    assert options.autotune.enabled is False


def test_a_ray_workers_share_sizes_its_thread_pool(monkeypatch):
    monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", "1")
    assert devices.cpu_threads() == 1
    assert devices.dataset_options().threading.private_threadpool_size == 1
    monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", "junk")
    assert devices.cpu_threads() == (os.cpu_count() or 1)


def test_one_device_trains_without_a_strategy():
    assert devices.training_strategy() is None
    assert devices.strategy_record(None) is None


MIRRORED = r"""
import json, sys
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

from pathlib import Path
from pipeline import devices
from pipeline.modeling import train
from pipeline.config import make_config
from pipeline.data.dataset import load_dataset
from pipeline.modeling import saved_models
from tests.imagefactory import photo, write_class_folder

root = Path(sys.argv[1])
write_class_folder(root / "photos", 40)
config = make_config("quick", data_dir=str(root / "photos"), out_dir=str(root / "art"),
                     models=("cnn3",), cnn_input_size=32, cnn_epochs=4, batch_size=8)
dataset = load_dataset(root / "photos", config.seed, config.val_fraction)
strategy = devices.training_strategy(["/cpu:0", "/cpu:1"])
with devices.strategy_scope(strategy):
    trained = train.train_cnn("cnn3", config, dataset, root / "art" / "cache")
trained.model.save(root / "mirrored.keras")  # what the study scores (see study.train_one)
import keras
saved = saved_models.load(root / "mirrored.keras")
# Unseen photos of each class, made as the training photos are (dogs brighter). An odd
# count: the padding helper is right for it (an even one: see the test below).
labels = [0, 1, 0, 1, 0, 1, 0]
x = np.stack([np.asarray(photo(32, 32, seed=5000 + i), np.float32) * 0.5 + 127 * label
              for i, label in enumerate(labels)])
p = saved.predict_on_batch(x).reshape(-1)
# The trained model itself, through the padding helper: 7 rows, not 7 repeated.
direct = np.asarray(devices.predict_on_batch(trained.model, x)).reshape(-1)
assert devices.replicas(trained.model) == 2 and devices.replicas(saved) == 1
assert np.abs(direct - p).max() < 1e-5, (direct, p)
# Reference: the sigmoid unit by hand, in float64, on what the saved model feeds it.
w, b = saved.get_layer("head_output").get_weights()
head_input = keras.Model(saved.inputs, saved.get_layer("head_dropout").output)
features = np.asarray(head_input.predict_on_batch(x), np.float64)
reference = 1 / (1 + np.exp(-(features @ w.astype(np.float64) + b)))
print(json.dumps({"loss": [row["loss"] for row in trained.history],
                  "record": devices.strategy_record(strategy), "p": p.tolist(),
                  "reference": reference.reshape(-1).tolist(), "labels": labels,
                  "even": np.asarray(devices.predict_on_batch(trained.model, x[:4]))
                  .reshape(-1).tolist()}))
"""


@pytest.fixture(scope="module")
def mirrored(tmp_path_factory) -> dict:
    """What the MIRRORED script measured, trained once for the tests below."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-c", MIRRORED, str(tmp_path_factory.mktemp("mirrored"))],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_one_model_trains_under_mirrored_strategy_on_two_logical_cpus(mirrored):
    result = mirrored
    record = result["record"]
    assert record["strategy"] == "MirroredStrategy" and record["replicas"] == 2
    assert [d.rsplit(":", 2)[-2:] for d in record["devices"]] == [["CPU", "0"], ["CPU", "1"]]
    # Brighter photos are dogs: four epochs over both replicas learn it (the loss of the
    # second, at the peak learning rate, may still rise).
    losses = result["loss"]
    assert len(losses) == 4 and losses[-1] < 0.8 * losses[0]
    # The saved model's P(dog) is the sigmoid of its head, computed here by hand: float32
    # against float64, so within a few float32 ulps (6e-8 just below 1).
    p, labels = np.array(result["p"]), np.array(result["labels"])
    assert p.shape == (7,)
    np.testing.assert_allclose(p, result["reference"], rtol=0, atol=1e-6)
    # ... and what it learned: every unseen bright photo is more of a dog than every dark one.
    assert p[labels == 1].min() > p[labels == 0].max(), p


def test_an_even_batch_through_two_replicas_gives_each_photos_own_answer(mirrored):
    # TensorFlow 2.21 repeats the rows of an even batch too: 4 photos came back as 8 rows
    assert len(mirrored["even"]) == 4
    np.testing.assert_allclose(mirrored["even"], mirrored["p"][:4], atol=1e-5)


def test_the_thread_cap_sizes_tensorflows_pools(tmp_path):
    script = (
        "import tensorflow as tf\n"
        "from pipeline.devices import apply_thread_cap\n"
        "apply_thread_cap()\n"
        "print(tf.config.threading.get_intra_op_parallelism_threads(),"
        " tf.config.threading.get_inter_op_parallelism_threads())\n"
    )
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(ROOT))
    for cap, expected in (("1", "1 1"), ("", "0 0")):  # 0: TensorFlow's own default
        done = subprocess.run(
            [sys.executable, "-c", script],
            env=env | {"TF_NUM_INTRAOP_THREADS": cap},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.stdout.strip().splitlines()[-1] == expected, done.stderr[-2000:]
