"""The pages' tables as plain functions, on made-up records with known answers."""

import math
from pathlib import Path

import pandas as pd
import pytest

from dashboard import tables
from pipeline.evaluation.analysis import efficiency
from pipeline.store import artifacts


def _record(name: str, accuracy: float, n: int = 100, **extra) -> dict:
    metrics = {"n": n, "accuracy": accuracy, "precision": 0.5, "recall": 0.6, "f1": 0.55}
    metrics |= {"roc_auc": 0.9, "latency_ms": 3.0}
    return {"name": name, "metrics": metrics, "params": 10, "train_seconds": 5.0, **extra}


def _wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def test_leaderboard_states_each_models_interval_and_gap_to_its_reference():
    run = artifacts.Run(
        Path("/nowhere"),
        {"models": [_record("cnn3", 0.9, size_bytes=2_500_000), _record("cnn4", 0.75)]},
    )
    board = tables.leaderboard(run)
    assert board.model.tolist() == ["CNN-3", "CNN-4"]
    low, high = _wilson(90, 100)
    assert board["95% interval"][0] == f"{low:.2%} – {high:.2%}"
    assert board["Δ vs reference (pts)"].tolist() == pytest.approx(
        [(0.9 - 0.7977) * 100, (0.75 - 0.8617) * 100]
    )
    assert board["size (MB)"].tolist() == [2.5, 0.0]


def _dataset(**extra) -> dict:
    counts = {"found": 1234, "train": {"Cat": 400, "Dog": 410}, "val": {"Cat": 100, "Dog": 90}}
    counts |= {"skipped": 3, "converted": 2}
    return {"val_fraction": 0.2, "seed": 7, "counts": counts, **extra}


def test_the_run_record_says_where_and_how_it_split_the_photos():
    assert tables.where({}) == "one process"
    cluster = {"nodes": 2, "cpus": 16, "gpus": 1}
    pipeline = {"device": "gpu", "inference_batch": 64}
    assert tables.where({"cluster": cluster, "input_pipeline": pipeline}) == (
        "Ray, 2 node(s), 16 CPU(s), 1 GPU(s); input pipeline for gpu, inference batch 64"
    )
    assert tables.split_text(_dataset()) == "20% validation, seed 7, by file path hash"
    dev = _dataset(duplicates={"groups": 2}, dev_fraction=0.15)
    dev["counts"]["held_out"] = 1500
    assert tables.split_text(dev) == (
        "20% validation, seed 7, by photo content hash; dev split: 15% of the training "
        "photos scored instead, 1,500 validation photos left out"
    )
    assert tables.validation_count({"dataset": _dataset()}) == 190


def test_the_dataset_figures_count_used_skipped_and_duplicate_photos():
    assert tables.dataset_figures(_dataset()) == {
        "Photos found": "1,234",
        "Used (train / validation)": "810 / 190",
        "Skipped / converted": "3 / 2",
        "Duplicate groups": "–",
    }
    assert tables.dataset_figures(_dataset(duplicates={"groups": 0}))["Duplicate groups"] == "0"
    assert tables.dataset_figures(_dataset(duplicates={"groups": 5}))["Duplicate groups"] == "5"


def _rows(clean: float, blur: float, resize: float) -> list[dict]:
    return [
        {"corruption": "clean", "severity": 0, "level": None, "accuracy": clean, "changed": 0},
        {"corruption": "blur", "severity": 1, "level": 1.0, "accuracy": blur, "changed": 4},
        {"corruption": "resize", "severity": 1, "level": 1, "accuracy": resize, "changed": 3},
    ]


ROBUSTNESS = {
    "photos": ["Cat/1.jpg", "Dog/2.jpg", "Dog/3.jpg"],
    "labels": [0, 1, 1],
    "corruptions": [{"name": "blur", "label": "Gaussian blur"}],
    "models": {
        "mobilenetv2_finetuned": {"rows": _rows(0.95, 0.9, 0.93), "flips": {"blur": [1]}},
        "cnn3": {"rows": _rows(0.8, 0.6, 0.75), "flips": {"blur": []}},
    },
    "answers": {
        "mobilenetv2_finetuned": {"clean:0": [0.1, 0.7, 0.9], "blur:1": [0.2, 0.4, 0.8]},
        "cnn3": {"clean:0": [0.3, 0.6, 0.6], "blur:1": [0.3, 0.6, 0.6]},
    },
}


def test_accuracy_under_corruptions_is_a_condition_by_model_table_in_the_results_order():
    names = list(ROBUSTNESS["models"])
    table = tables.accuracy_under_corruptions(ROBUSTNESS, names)
    assert table.columns.tolist() == ["condition", "MobileNetV2 fine-tuned", "CNN-3"]
    assert table.condition.tolist() == [
        "clean",
        "Gaussian blur (1 radius px)",
        "TensorFlow bilinear resize (no antialias)",
    ]
    assert table["CNN-3"].tolist() == [0.8, 0.6, 0.75]
    assert tables.corruption_choices(ROBUSTNESS) == {"Gaussian blur": "blur"}
    run = artifacts.Run(Path("/nowhere"), {"models": [{"name": "cnn3"}]})
    assert tables.robust_models(ROBUSTNESS, run) == ["cnn3"]  # a model no longer in the run


def test_the_resize_gap_is_clean_minus_tensorflow_resize_in_points():
    gaps = tables.resize_gaps(ROBUSTNESS, ["cnn3", "mobilenetv2_finetuned"])
    assert gaps["gap (points)"].tolist() == pytest.approx([5.0, 2.0])
    assert gaps["answers that differ"].tolist() == [3, 3]
    every = {
        "models": {
            "cnn3": {"pillow": 0.8, "tensorflow": 0.7, "points": 10.0, "changed": 9}
            | {"p_value": 0.01, "photos": 500},
        }
    }
    assert tables.resize_gaps_everywhere(every)["McNemar p"].tolist() == [0.01]
    assert tables.photos_in_gap(every) == 500


def test_flips_list_the_photos_whose_answer_changes_with_both_answers():
    classes = ["Cat", "Dog"]
    frame = tables.flips(ROBUSTNESS, classes, "mobilenetv2_finetuned", "blur", "Gaussian blur")
    assert frame.to_dict("records") == [
        {
            "photo": "Dog/2.jpg",
            "label": "Dog",
            "P(Dog) clean": 0.7,
            "P(Dog) Gaussian blur": 0.4,
        }
    ]
    assert tables.flips(ROBUSTNESS, classes, "cnn3", "blur", "Gaussian blur").empty


def test_the_efficiency_table_marks_only_undominated_models_on_the_frontier():
    records = [
        {"name": "cnn3", "metrics": {"accuracy": 0.80, "latency_ms": 2.0}},
        {"name": "cnn4", "metrics": {"accuracy": 0.85, "latency_ms": 20.0}},  # dominated
        {"name": "mobilenetv2_frozen", "metrics": {"accuracy": 0.90, "latency_ms": 10.0}},
        {"name": "mobilenetv2_finetuned", "metrics": {"accuracy": 0.95, "latency_ms": None}},
    ]
    for r in records:
        r |= {"size_bytes": 10**6, "params": 1}
    table = tables.efficiency_table(efficiency(records))
    assert table["on frontier"].tolist() == [True, False, True, False]  # untimed: not on it
    assert table["extra ms per accuracy point"].tolist() == ["–", "–", "0.80", "–"]
    assert table["interquartile range (ms)"][0] == "2.0 – 2.0"


def _run(run_id: str, accuracies: dict[str, float]) -> artifacts.Run:
    models = [{"name": n, "metrics": {"accuracy": a}} for n, a in accuracies.items()]
    return artifacts.Run(Path("/runs") / run_id, {"run_id": run_id, "models": models})


def test_a_sweep_table_has_a_row_per_run_still_there():
    sweep = {
        "sweep_id": "s1",
        "grid": {"cnn_epochs": [4, 8, 16]},
        "runs": [
            {"values": {"cnn_epochs": 4}, "run_id": "a"},
            {"values": {"cnn_epochs": 8}, "run_id": "gone"},
            {"values": {"cnn_epochs": 16}, "run_id": "b"},
        ],
    }
    runs = {"a": _run("a", {"cnn3": 0.7}), "b": _run("b", {"cnn3": 0.8})}
    table = tables.sweep_table(sweep, runs)
    pd.testing.assert_frame_equal(
        table, pd.DataFrame({"cnn_epochs": [4, 16], "run": ["a", "b"], "CNN-3": [0.7, 0.8]})
    )
    assert tables.sweep_label(sweep) == "s1 (3 runs over cnn_epochs)"
    assert tables.sweep_table({**sweep, "runs": []}, runs).empty


def test_the_comparison_table_states_the_difference_in_points_and_the_verdict():
    test = {"method": "McNemar (exact) on 100 shared photos", "p_value": 0.03}
    result = {
        "models": [
            {"model": "cnn3", "a": {"accuracy": 0.7}, "b": {"accuracy": 0.75}}
            | {"difference": 0.05, "shared_photos": 100, "test": test, "significant": True}
        ],
        "config": {"cnn_epochs": [8, 16]},
    }
    (row,) = tables.comparison_table(result).to_dict("records")
    assert row["B − A (pts)"] == pytest.approx(5.0) and row["verdict"] == "significant"
    assert row["on"] == "each run's own photos"
    assert tables.config_table(result).values.tolist() == [["cnn_epochs", "8", "16"]]


def test_the_comparison_table_reads_accuracies_on_the_shared_photos_apart_from_the_whole_sets():
    """A full run (4,627 photos) against a quick one (586): A and B on the 586 both scored,
    and each whole set's accuracy apart, labelled."""
    test = {"method": "McNemar (exact) on 586 shared photos", "p_value": 0.4}
    shared = {"a": {"accuracy": 0.9812, "n": 586}, "b": {"accuracy": 0.9795, "n": 586}}
    result = {
        "models": [
            {"model": "mobilenetv2_frozen", "shared": shared, "shared_photos": 586}
            | {"a": {"accuracy": 0.9829, "n": 4627}, "b": {"accuracy": 0.9795, "n": 586}}
            | {"difference": 0.9795 - 0.9812, "test": test, "significant": False}
        ],
        "config": {},
    }
    (row,) = tables.comparison_table(result).to_dict("records")
    assert (row["A"], row["B"], row["on"]) == (0.9812, 0.9795, "shared photos")
    assert row["B − A (pts)"] == pytest.approx(-0.17)
    assert (row["A, whole set"], row["A photos"]) == (0.9829, 4627)
    assert (row["B, whole set"], row["B photos"]) == (0.9795, 586)
