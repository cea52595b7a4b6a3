"""The study on a local Ray instance gives what it gives in-process.

One local Ray instance (`--ray auto`: 2 CPUs) serves the module. A training
task asks for all of a node's CPUs, so on one 2-core node it runs with the same
thread pools as in-process and even the CNNs come out identical here; with
fewer threads (a 1-CPU node) their float sums run in another order and their
probabilities move by ~1e-7 after two epochs, more with more epochs.
"""

from __future__ import annotations

import io
import os

import numpy as np
import pytest

from pipeline.config import make_config
from pipeline.console import Console
from pipeline.data.dataset import load_dataset
from pipeline.distributed import ray_photos
from pipeline.distributed.cluster import connect, remote_args
from pipeline.evaluation import analysis
from pipeline.modeling.features import load_or_decode, pixel_store
from pipeline.registry import MODEL_NAMES
from pipeline.store import artifacts
from pipeline.workflows.rescore import evaluate_run
from pipeline.workflows.study import train_study
from pipeline.workflows.sweep import run_sweep
from pipeline.workflows.verify import verify_run

pytestmark = pytest.mark.integration

SMALL = dict(
    max_per_class=40,
    cnn_input_size=32,
    cnn_epochs=2,
    mobilenet_input_size=96,
    frozen_epochs=2,
    finetune_epochs=1,
)


@pytest.fixture(scope="module")
def cluster():
    with connect("auto", num_cpus=2) as connected:
        yield connected


def _config(shared_data, shared_weights, out, **extra):
    values = SMALL | {"data_dir": str(shared_data), "out_dir": str(out)} | extra
    return make_config("quick", weights=str(shared_weights), **values)


@pytest.fixture(scope="module")
def both_runs(cluster, shared_data, shared_weights, tmp_path_factory):
    """The same study in-process and on Ray (separate artifacts folders, empty caches)."""
    here = train_study(_config(shared_data, shared_weights, tmp_path_factory.mktemp("here")))
    log = io.StringIO()
    config = _config(shared_data, shared_weights, tmp_path_factory.mktemp("ray"))
    there = train_study(config, Console(log), cluster=cluster)
    return here, there, log.getvalue()


def test_the_study_on_ray_predicts_what_it_predicts_in_process(both_runs, cluster):
    here, there, log = both_runs
    assert "Ray: decoding photos at 32px into the pixel cache" in log
    assert "Ray: MobileNetV2 features at 96px into the feature cache" in log
    assert "mobilenetv2_finetuned: training on the cluster" in log
    assert there.model_names() == here.model_names() == list(MODEL_NAMES)
    for name in MODEL_NAMES:
        a, b = here.predictions(name), there.predictions(name)
        assert a.path.tolist() == b.path.tolist()
        assert np.abs(a.p_dog.to_numpy() - b.p_dog.to_numpy()).max() < 1e-4, name
    # The photos were computed on the cluster, so the training tasks found them cached.
    for record in there.model_records():
        assert record["cache"]["computed"] == 0, record["name"]
    assert there.manifest["cluster"] == cluster.record()
    assert there.manifest["input_pipeline"]["device"] == "cpu"
    assert verify_run(there) == []


def test_evaluate_and_grad_cam_on_ray_reproduce_the_run(both_runs, cluster):
    here, there, _ = both_runs
    before = {name: there.predictions(name) for name in MODEL_NAMES}
    evaluate_run(there, log=Console(io.StringIO()), cluster=cluster)
    after = artifacts.read_run(there.path)
    for name in MODEL_NAMES:  # scored again from the photos by Ray actors
        diff = before[name].p_dog.to_numpy() - after.predictions(name).p_dog.to_numpy()
        assert np.abs(diff).max() < 1e-4, name
    files = sorted((here.path / artifacts.GRADCAM).glob("*.npz"))
    assert files
    for file in files:
        ours = analysis.read_explanation(file)
        theirs = analysis.read_explanation(there.path / artifacts.GRADCAM / file.name)
        assert ours.keys() == theirs.keys()
        for name, maps in ours.items():
            assert np.array_equal(maps["image"], theirs[name]["image"])
            for kind in ("positive", "negative"):
                assert np.abs(maps[kind] - theirs[name][kind]).max() < 2e-2, (name, kind)
    assert verify_run(after) == []


def test_ray_data_decodes_only_the_photos_the_cache_lacks(cluster, shared_data, tmp_path):
    dataset = load_dataset(shared_data, 1, 0.2, max_per_class=30)
    photos = dataset.train + dataset.val
    first, rest = photos[:20], photos[20:]
    assert ray_photos.fill_pixels(cluster, tmp_path, dataset.root, first, 24) == 20
    assert ray_photos.fill_pixels(cluster, tmp_path, dataset.root, photos, 24) == len(rest)
    assert ray_photos.fill_pixels(cluster, tmp_path, dataset.root, photos, 24) == 0
    store = pixel_store(tmp_path, 24)
    assert store.missing(s.sha256 for s in photos) == []
    # The view resized the TensorFlow way: its own store, the pixels tf.data computes.
    assert (
        ray_photos.fill_pixels(cluster, tmp_path, dataset.root, first, 24, resize="tensorflow")
        == 20
    )
    on_ray, _ = load_or_decode(tmp_path, dataset.root, first, 24, 8, resize="tensorflow")
    here, _ = load_or_decode(tmp_path / "here", dataset.root, first, 24, 8, resize="tensorflow")
    assert np.array_equal(np.asarray(on_ray), np.asarray(here))


def test_a_sweep_on_ray_runs_its_points_as_tasks(cluster, shared_data, shared_weights, tmp_path):
    base = _config(shared_data, shared_weights, tmp_path / "art", models=("cnn3",))
    log = io.StringIO()
    record = run_sweep(base, {"cnn_epochs": [1, 2]}, Console(log), cluster=cluster)
    assert "(on the cluster)" in log.getvalue()
    assert sorted(r["values"]["cnn_epochs"] for r in record["runs"]) == [1, 2]
    for entry in record["runs"]:
        run = artifacts.read_run(tmp_path / "art" / artifacts.RUNS / entry["run_id"])
        assert run.complete and verify_run(run) == []
        assert len(run.history("cnn3")) == entry["values"]["cnn_epochs"]


def _threads_here() -> tuple[str, int]:
    import tensorflow as tf

    from pipeline.devices import apply_thread_cap

    apply_thread_cap()
    return os.environ[
        "TF_NUM_INTRAOP_THREADS"
    ], tf.config.threading.get_intra_op_parallelism_threads()


def test_a_worker_runs_tensorflow_on_its_cpu_share_only(cluster):
    import ray

    probe = ray.remote(_threads_here)
    assert ray.get(probe.options(**remote_args(1)).remote()) == ("1", 1)
    assert ray.get(probe.options(**remote_args(2)).remote()) == ("2", 2)
