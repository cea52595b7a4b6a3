"""One-image latency of each model, measured with repeats, interleaved, and with its noise.

One timing at the end of training moves ±20% with whatever else the host is
doing. Here every model is timed in the same rounds, in turn (so a burst of
host noise hits all of them, not one), each round a few single-image calls as
the dashboard makes them; the median and interquartile range of all calls are
kept, with the CPU they were measured on. A model is only called faster than
another when their interquartile ranges do not overlap.
"""

from __future__ import annotations

import time

import numpy as np

from pipeline.modeling.engine import Engine
from pipeline.modeling.predict import Scorer

ROUNDS = 7
CALLS_PER_ROUND = 8
WARMUP_CALLS = 3


def _one_image(model) -> np.ndarray:
    size = tuple(model.input_shape[1:3])
    return np.random.default_rng(0).uniform(0, 255, (1, *size, 3)).astype(np.float32)


def measure(
    models: dict,
    rounds: int = ROUNDS,
    calls: int = CALLS_PER_ROUND,
    progress=None,
    engine: Engine | None = None,
) -> dict[str, dict]:
    """name -> {median_ms, q1_ms, q3_ms, calls, engine} for each loaded Keras model, on
    `engine` (the live page's, `pipeline.modeling.engine`; TensorFlow when None)."""
    inputs = {name: _one_image(model) for name, model in models.items()}
    forwards = {name: Scorer(model, engine=engine).compiled() for name, model in models.items()}
    for name, forward in forwards.items():
        for _ in range(WARMUP_CALLS):
            forward(inputs[name])
    times: dict[str, list[float]] = {name: [] for name in models}
    names = list(models)
    for round_number in range(rounds):
        shift = round_number % len(names) if names else 0
        for name in names[shift:] + names[:shift]:  # a different model goes first each round
            for _ in range(calls):
                start = time.perf_counter()
                forwards[name](inputs[name])
                times[name].append((time.perf_counter() - start) * 1000)
        if progress is not None:
            progress(1)
    return {
        name: summarize(values) | {"engine": forwards[name].backend}
        for name, values in times.items()
    }


def summarize(values_ms: list[float]) -> dict:
    q1, median, q3 = np.percentile(values_ms, [25, 50, 75])
    return {
        "median_ms": float(median),
        "q1_ms": float(q1),
        "q3_ms": float(q3),
        "calls": len(values_ms),
    }


def clearly_faster(a: dict, b: dict) -> bool:
    """`a` is faster than `b` beyond the noise: their interquartile ranges do not overlap."""
    return a["q3_ms"] < b["q1_ms"]
