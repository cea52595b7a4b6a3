"""Latency with repeats and its noise; the efficiency frontier only trusts clear gaps."""

import keras
import numpy as np

from pipeline.evaluation import latency
from pipeline.evaluation.analysis import efficiency, pareto_front


def test_summary_is_median_and_quartiles():
    got = latency.summarize([1, 2, 3, 4, 100])
    assert got == {"median_ms": 3.0, "q1_ms": 2.0, "q3_ms": 4.0, "calls": 5}


def test_faster_means_interquartile_ranges_apart():
    fast = {"q1_ms": 1.0, "q3_ms": 2.0}
    slow = {"q1_ms": 2.5, "q3_ms": 3.0}
    overlapping = {"q1_ms": 1.8, "q3_ms": 3.0}
    assert latency.clearly_faster(fast, slow) and not latency.clearly_faster(slow, fast)
    assert not latency.clearly_faster(fast, overlapping)


def test_every_model_is_timed_in_every_round():
    small = keras.Sequential(
        [keras.Input((8, 8, 3)), keras.layers.Flatten(), keras.layers.Dense(1)]
    )
    other = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Conv2D(4, 3)])
    rounds = []
    got = latency.measure({"a": small, "b": other}, rounds=3, calls=4, progress=rounds.append)
    assert rounds == [1, 1, 1]
    for timed in got.values():
        assert timed["calls"] == 12 and 0 < timed["q1_ms"] <= timed["median_ms"] <= timed["q3_ms"]


def test_the_frontier_without_noise_is_the_plain_pareto_front():
    assert pareto_front([0.8, 0.9, 0.85], [1.0, 5.0, 6.0]) == [True, True, False]


def test_a_model_is_dominated_only_beyond_the_noise():
    accuracy = [0.90, 0.90, 0.95]
    median = [10.0, 11.0, 30.0]
    # 0 and 1 are equally accurate, and 1 is slower only within the noise: both stay.
    assert pareto_front(accuracy, median, [9.0, 10.0, 29.0], [12.0, 12.5, 31.0]) == [True] * 3
    # With tight timings 1 is measurably slower than 0 and no more accurate.
    assert pareto_front(accuracy, median, [9.9, 10.9, 29.0], [10.1, 11.1, 31.0]) == [
        True,
        False,
        True,
    ]
    # Less accurate and not measurably faster than a better model: dominated.
    assert pareto_front([0.9, 0.95], [10.0, 10.5], [9.0, 9.5], [11.0, 11.5]) == [False, True]


def test_efficiency_uses_the_repeated_timings_when_there_are_some():
    records = [
        {"name": n, "metrics": {"accuracy": a, "latency_ms": 99.0}, "params": 1, "size_bytes": 0}
        for n, a in (("a", 0.9), ("b", 0.95))
    ]
    timed = {
        "a": {"median_ms": 5.0, "q1_ms": 4.0, "q3_ms": 6.0},
        "b": {"median_ms": 7.0, "q1_ms": 6.5, "q3_ms": 7.5},
    }
    rows = efficiency(records, timed)
    assert [r["latency_ms"] for r in rows] == [5.0, 7.0]
    assert [r["on_frontier"] for r in rows] == [True, True]
    assert np.isclose(rows[1]["ms_per_point"], 2.0 / 5.0)
    assert [r["latency_ms"] for r in efficiency(records)] == [99.0, 99.0]
