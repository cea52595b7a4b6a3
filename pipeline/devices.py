"""What this process computes on, and the input-pipeline settings that suit it.

On CPUs the input pipeline must leave the cores to the model: tf.data's
autotuning off, a private pool of one thread per core this process may use,
and small inference batches (MobileNetV2 at 224px on 2 cores: 16 images per
call at ~73 images/s, 64 at ~54). A GPU wants the opposite: autotuned,
deeper prefetching and larger batches, or it starves. The choice is made per
process from the devices found and recorded in the run's manifest.

The CPU share is `TF_NUM_INTRAOP_THREADS` when set (a Ray worker's share, see
`pipeline.distributed.cluster`), else every core.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import asdict, dataclass

import numpy as np

# Inference batch on a GPU when the configured one is the CPU default.
CPU_INFERENCE_BATCH = 16
GPU_INFERENCE_BATCH = 64


@dataclass(frozen=True)
class InputSettings:
    device: str  # "cpu" or "gpu"
    gpus: int
    cpu_threads: int
    autotune: bool
    prefetch: int  # batches; -1 = tf.data.AUTOTUNE
    inference_batch: int

    def record(self) -> dict:
        return asdict(self)


def cpu_threads() -> int:
    """Cores this process may use: its Ray share when capped, else all."""
    capped = os.environ.get("TF_NUM_INTRAOP_THREADS")
    if capped and capped.isdigit() and int(capped) > 0:
        return int(capped)
    return os.cpu_count() or 1


def apply_thread_cap() -> None:
    """Size TensorFlow's thread pools to `cpu_threads()` when a cap is set (Ray workers).

    Must run before TensorFlow executes anything in the process; a reused worker
    whose runtime is already up keeps the pools it was given, which had the same
    cap (Ray keeps workers of different environments apart).
    """
    if not os.environ.get("TF_NUM_INTRAOP_THREADS"):
        return
    import tensorflow as tf

    threads = cpu_threads()
    with contextlib.suppress(RuntimeError):
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)


def gpu_count() -> int:
    import tensorflow as tf

    return len(tf.config.list_physical_devices("GPU"))


def input_settings(
    inference_batch: int = CPU_INFERENCE_BATCH, gpus: int | None = None
) -> InputSettings:
    """Settings for the devices this process sees (or `gpus` per worker, on Ray);
    `inference_batch` is the configured one."""
    gpus = gpu_count() if gpus is None else gpus
    if gpus == 0:
        return InputSettings(
            "cpu", 0, cpu_threads(), autotune=False, prefetch=2, inference_batch=inference_batch
        )
    batch = GPU_INFERENCE_BATCH if inference_batch == CPU_INFERENCE_BATCH else inference_batch
    return InputSettings(
        "gpu", gpus, cpu_threads(), autotune=True, prefetch=-1, inference_batch=batch
    )


def dataset_options():
    """tf.data options per `input_settings` (CPU: private pool, no autotuning)."""
    import tensorflow as tf

    settings = input_settings()
    options = tf.data.Options()
    if not settings.autotune:
        options.threading.private_threadpool_size = settings.cpu_threads
        options.autotune.enabled = False
    return options


def prefetch_depth() -> int:
    import tensorflow as tf

    depth = input_settings().prefetch
    return tf.data.AUTOTUNE if depth < 0 else depth


def training_strategy(devices: list[str] | None = None):
    """`MirroredStrategy` over `devices`, or over the GPUs when this host has several;
    None (the default strategy) otherwise.

    Keras 3 trains under MirroredStrategy on one host; across hosts
    (MultiWorkerMirroredStrategy) it does not (keras-team/keras#20585), so
    scale-out is by photo, model and run instead (`pipeline.distributed.cluster`).
    """
    import tensorflow as tf

    if devices is None:
        gpus = tf.config.list_logical_devices("GPU")
        if len(gpus) < 2:
            return None
        devices = [d.name for d in gpus]
    return tf.distribute.MirroredStrategy(devices)


def strategy_scope(strategy):
    """`strategy.scope()`, or nothing for the default strategy."""
    return strategy.scope() if strategy is not None else contextlib.nullcontext()


def replicas(model) -> int:
    """How many replicas `model` runs on (several when built under MirroredStrategy)."""
    strategy = getattr(model, "distribute_strategy", None)
    return int(strategy.num_replicas_in_sync) if strategy is not None else 1


def predict_on_batch(model, x: np.ndarray):
    """`model.predict_on_batch(x)`, right for a model of several replicas too.

    Under MirroredStrategy, TensorFlow 2.21 returns every batch with its rows repeated
    (an uneven one too), so the batch is padded with zeros to a multiple of the replicas
    and only its own rows are kept.
    """
    n, count = len(x), replicas(model)
    if count == 1:
        return model.predict_on_batch(x)
    padding = np.zeros((-n % count, *x.shape[1:]), dtype=x.dtype)
    outputs = model.predict_on_batch(np.concatenate([np.asarray(x), padding]))
    if isinstance(outputs, (list, tuple)):
        return [np.asarray(o)[:n] for o in outputs]
    return np.asarray(outputs)[:n]


def strategy_record(strategy) -> dict | None:
    if strategy is None:
        return None
    return {
        "strategy": type(strategy).__name__,
        "replicas": int(strategy.num_replicas_in_sync),
        "devices": list(strategy.extended.worker_devices),
    }
