"""The tables and figures pages show, as plain functions of a run's records (no Streamlit).

Views lay these out; the tests check their numbers without a page.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dashboard.settings import label, p_positive
from pipeline.evaluation import robustness
from pipeline.evaluation.stats import wilson_interval
from pipeline.registry import spec
from pipeline.store import artifacts
from pipeline.store.predictions import predicted_classes

LEADERBOARD_FORMATS = {
    "val accuracy": "{:.2%}",
    "reference": "{:.2%}",
    "Δ vs reference (pts)": "{:+.2f}",
    "precision": "{:.3f}",
    "recall": "{:.3f}",
    "F1": "{:.3f}",
    "ROC AUC": "{:.4f}",
    "params": "{:,}",
    "trainable": "{:,}",
    "size (MB)": "{:.1f}",
    "train time (s)": "{:.0f}",
    "latency (ms, 1 image)": "{:.1f}",
}
PILLOW, TENSORFLOW = "loader (Pillow bilinear, antialiased)", "tf.image.resize default"
RESIZE_GAP_FORMATS = {PILLOW: "{:.1%}", TENSORFLOW: "{:.1%}", "gap (points)": "{:+.1f}"}
RESIZE_GAP_ALL_FORMATS = {
    PILLOW: "{:.2%}",
    TENSORFLOW: "{:.2%}",
    "gap (points)": "{:+.2f}",
    "McNemar p": "{:.3g}",
}


# Overview


def leaderboard_row(record: dict) -> dict:
    """One model's line of the leaderboard, from its manifest record."""
    m = record["metrics"]
    reference = spec(record["name"]).reference_accuracy
    low, high = wilson_interval(round(m["accuracy"] * m["n"]), m["n"])
    return {
        "model": label(record["name"]),
        "val accuracy": m["accuracy"],
        "95% interval": f"{low:.2%} – {high:.2%}",
        "reference": reference,
        "Δ vs reference (pts)": (m["accuracy"] - reference) * 100 if reference else None,
        "precision": m["precision"],
        "recall": m["recall"],
        "F1": m["f1"],
        "ROC AUC": m["roc_auc"],
        "params": record["params"],
        "trainable": record.get("trainable_params"),
        "size (MB)": record.get("size_bytes", 0) / 1e6,
        "train time (s)": record["train_seconds"],
        "latency (ms, 1 image)": m.get("latency_ms"),
    }


# For more than two classes the stored precision, recall, F1 and ROC AUC are macro averages.
MACRO_COLUMNS = {
    "precision": "macro precision",
    "recall": "macro recall",
    "F1": "macro F1",
    "ROC AUC": "ROC AUC (macro, one-vs-rest)",
}


def leaderboard(run: artifacts.Run) -> pd.DataFrame:
    table = pd.DataFrame([leaderboard_row(r) for r in run.model_records()])
    classes = (run.manifest.get("dataset") or {}).get("class_names") or []
    if len(classes) <= 2:
        return table
    k = [r["metrics"].get("top_k") for r in run.model_records()]
    top = [r["metrics"].get("top_k_accuracy") for r in run.model_records()]
    if any(v is not None for v in top):
        table.insert(3, f"top-{max(v or 0 for v in k)} accuracy", top)
    return table.rename(columns=MACRO_COLUMNS)


def _interval(scores: dict) -> str:
    if not scores["n"]:
        return "–"
    low, high = scores["accuracy_ci95"]
    return f"{low:.2%} – {high:.2%}"


def leak_free_table(report: dict) -> pd.DataFrame:
    """Per model: accuracy on every validation photo, without the leaks, and on the leaks."""
    rows = []
    for name, scores in report["models"].items():
        every, clean, leaked = scores["all"], scores["without_leaks"], scores["leaks_only"]
        rows.append(
            {
                "model": label(name),
                f"all {every['n']:,} photos": every["accuracy"],
                "95% interval": _interval(every),
                f"without leaks ({clean['n']:,})": clean["accuracy"],
                "95% interval ": _interval(clean),
                f"on the leaks ({leaked['n']:,})": leaked["accuracy"],
            }
        )
    return pd.DataFrame(rows)


def with_leak_free_accuracy(board: pd.DataFrame, report: dict | None) -> pd.DataFrame:
    """The leaderboard with each model's accuracy without the near-duplicate leaks beside
    the headline, when the run has leaks."""
    if not report or not report["leaks"]["count"]:
        return board
    by_label = {label(n): s["without_leaks"] for n, s in report["models"].items()}
    board = board.copy()
    at = board.columns.get_loc("95% interval") + 1
    board.insert(at, "without leaks", [by_label.get(m, {}).get("accuracy") for m in board.model])
    board.insert(
        at + 1,
        "95% interval (no leaks)",
        [_interval(by_label[m]) if m in by_label else "–" for m in board.model],
    )
    return board


def leaderboard_formats(table: pd.DataFrame) -> dict[str, str]:
    """LEADERBOARD_FORMATS for the columns the table has (N-class names included)."""
    formats = dict(LEADERBOARD_FORMATS)
    formats |= {new: formats[old] for old, new in MACRO_COLUMNS.items()}
    formats |= {c: "{:.2%}" for c in table.columns if str(c).startswith("top-")}
    formats["without leaks"] = "{:.2%}"
    return {c: f for c, f in formats.items() if c in table.columns}


def validation_count(manifest: dict) -> int:
    """Photos the models were scored on (the dev split's, on a tuning run)."""
    return sum(manifest["dataset"]["counts"]["val"].values())


def missing_models(run: artifacts.Run) -> list[str]:
    """Models the run planned that it does not have (yet)."""
    return [m for m in run.manifest.get("planned_models", []) if m not in run.model_names()]


def where(manifest: dict) -> str:
    """This process, or the Ray cluster the run's models trained on; and the input settings."""
    cluster = manifest.get("cluster")
    text = "one process"
    if cluster:
        gpus = f", {cluster['gpus']} GPU(s)" if cluster.get("gpus") else ""
        text = f"Ray, {cluster['nodes']} node(s), {cluster['cpus']} CPU(s){gpus}"
    pipeline = manifest.get("input_pipeline")
    if pipeline:
        text += f"; input pipeline for {pipeline['device']}, inference batch "
        text += str(pipeline["inference_batch"])
    return text


def split_text(dataset: dict) -> str:
    """How the photos were split, in words."""
    if str(dataset.get("split", "")).startswith("given"):
        text = f"{dataset['split']}: the folders' own split"
    else:
        text = f"{dataset['val_fraction']:.0%} validation, seed {dataset['seed']}, "
        text += "by photo content hash" if dataset.get("duplicates") else "by file path hash"
    leaks = (dataset.get("leaks") or {}).get("count")
    if leaks:
        text += f"; {leaks:,} validation photo(s) identical to a training photo (leaks)"
    if dataset.get("dev_fraction"):
        text += (
            f"; dev split: {dataset['dev_fraction']:.0%} of the training photos scored instead, "
            f"{dataset['counts'].get('held_out', 0):,} validation photos left out"
        )
    return text


def dataset_figures(dataset: dict) -> dict[str, str]:
    """The four headline numbers of the photos, formatted, by the label they are shown under."""
    counts = dataset["counts"]
    duplicates = dataset.get("duplicates") or {}
    return {
        "Photos found": f"{counts['found']:,}",
        "Used (train / validation)": (
            f"{sum(counts['train'].values()):,} / {sum(counts['val'].values()):,}"
        ),
        "Skipped / converted": f"{counts['skipped']:,} / {counts['converted']:,}",
        "Duplicate groups": f"{duplicates.get('groups', 0):,}" if duplicates else "–",
    }


def classes_label(classes: list[str]) -> str:
    """The run record's name for its class list: 'classes (label 0, 1)' for two."""
    return (
        "classes (label 0, 1)" if len(classes) == 2 else f"classes (label 0 to {len(classes) - 1})"
    )


def run_details(manifest: dict) -> pd.DataFrame:
    """The run's record, one setting a row (index: what, column `value`)."""
    dataset, env = manifest["dataset"], manifest["environment"]
    weights = manifest.get("weights") or {}
    counts = dataset["counts"]
    details = {
        "run id": manifest["run_id"],
        "status": manifest["status"],
        "created": manifest["created"],
        "profile": manifest["config"]["profile"],
        "data folder": dataset["root"],
        classes_label(dataset["class_names"]): ", ".join(dataset["class_names"]),
        "split": split_text(dataset),
        "identity": (manifest.get("identity") or {}).get("key", "–"),
        "per class, train": str(counts["train"]),
        "per class, validation": str(counts["val"]),
        "weights": weights.get("source", "–"),
        "weights sha256": weights.get("sha256", "–"),
        "versions": (
            f"Python {env['python']}, TensorFlow {env['tensorflow']}, Keras {env['keras']}"
        ),
        "machine": f"{env['cpu']} ({env['cpu_count']} cores)",
        "trained on": where(manifest),
    }
    return pd.DataFrame(details.items(), columns=["", "value"]).set_index("")


# How robust is each model?


def condition_label(row: dict) -> str:
    """'clean', or the corruption's name with its level: 'Gaussian blur (2.5 radius px)'."""
    corruption = robustness.BY_NAME.get(row["corruption"])
    if corruption is None:
        return "clean"
    text = corruption.label
    if corruption.unit:
        text += f" ({row['level']:g} {corruption.unit})"
    return text


def robust_models(result: dict, run: artifacts.Run) -> list[str]:
    """The models of the robustness result that the run still has, in the result's order."""
    return [n for n in result["models"] if n in run.model_names()]


def accuracy_under_corruptions(result: dict, names: list[str]) -> pd.DataFrame:
    """One row per condition (clean first, in the result's order), one column per model."""
    rows = [
        {"condition": condition_label(row), "model": label(name), "accuracy": row["accuracy"]}
        for name in names
        for row in result["models"][name]["rows"]
    ]
    table = pd.DataFrame(rows).pivot_table(
        index="condition", columns="model", values="accuracy", sort=False
    )
    return table[[label(n) for n in names]].reset_index()


def corruption_choices(result: dict) -> dict[str, str]:
    """Label -> name of the corruptions the result covers."""
    return {c["label"]: c["name"] for c in result["corruptions"]}


def resize_gaps(result: dict, names: list[str]) -> pd.DataFrame:
    """Clean accuracy against accuracy through TensorFlow's resize, on the result's subset."""
    rows = []
    for name in names:
        by = {(r["corruption"], r["severity"]): r for r in result["models"][name]["rows"]}
        clean, resized = by[("clean", 0)], by[("resize", 1)]
        rows.append(
            {
                "model": label(name),
                PILLOW: clean["accuracy"],
                TENSORFLOW: resized["accuracy"],
                "gap (points)": (clean["accuracy"] - resized["accuracy"]) * 100,
                "answers that differ": resized["changed"],
            }
        )
    return pd.DataFrame(rows)


def resize_gaps_everywhere(every: dict) -> pd.DataFrame:
    """The same gap on every validation photo (resize_gap.json), with its McNemar p."""
    return pd.DataFrame(
        [
            {
                "model": label(name),
                PILLOW: gap["pillow"],
                TENSORFLOW: gap["tensorflow"],
                "gap (points)": gap["points"],
                "answers that differ": gap["changed"],
                "McNemar p": gap["p_value"],
            }
            for name, gap in every["models"].items()
        ]
    )


def photos_in_gap(every: dict) -> int:
    return max(gap["photos"] for gap in every["models"].values())


def flips(
    result: dict, class_names: list[str], model: str, corruption: str, shown_as: str
) -> pd.DataFrame:
    """Photos whose answer from `model` flips under the mildest level of `corruption`,
    with P(<positive class>) clean and corrupted (`shown_as`: the corruption's label, for the
    column)."""
    flipped = result["models"][model]["flips"].get(corruption, [])
    answers = result["answers"][model]
    if len(class_names) != 2:
        return _class_flips(
            result, class_names, flipped, answers=answers, columns=(corruption, shown_as)
        )
    p = p_positive(class_names)
    return pd.DataFrame(
        {
            "photo": [result["photos"][i] for i in flipped],
            "label": [class_names[result["labels"][i]] for i in flipped],
            f"{p} clean": [answers["clean:0"][i] for i in flipped],
            f"{p} {shown_as}": [answers[f"{corruption}:1"][i] for i in flipped],
        }
    )


def _said(answer, class_names: list[str]) -> str:
    """A stored robustness answer as a class name: a probability vector's top class, or the
    class index itself."""
    if isinstance(answer, list | tuple):
        return class_names[int(predicted_classes(np.asarray([answer], float))[0])]
    return class_names[int(answer)]


def _class_flips(
    result: dict, class_names: list[str], flipped: list[int], answers: dict, columns: tuple
) -> pd.DataFrame:
    """`flips` of an N-class run: the class answered clean and under the corruption."""
    corruption, shown_as = columns
    return pd.DataFrame(
        {
            "photo": [result["photos"][i] for i in flipped],
            "label": [class_names[result["labels"][i]] for i in flipped],
            "clean": [_said(answers["clean:0"][i], class_names) for i in flipped],
            shown_as: [_said(answers[f"{corruption}:1"][i], class_names) for i in flipped],
        }
    )


# Compare runs and Sweeps


def changed_photos(changed: pd.DataFrame, class_names: list[str]) -> pd.DataFrame:
    """The photos run B fixed or broke (`compare.fixed_and_broken`) as shown: the class by
    name, and each run's P(<positive class>) as the last two columns."""
    p = p_positive(class_names)
    shown = changed.rename(columns={"p_dog_a": f"{p} A", "p_dog_b": f"{p} B"})
    return shown.assign(label=[class_names[int(v)] for v in shown.label])


def comparison_table(result: dict) -> pd.DataFrame:
    """One row per model both runs have: both runs' accuracy on the photos they share, the
    difference there and the paired test's verdict; then each run's whole-set accuracy and
    photo count, apart (two sets of photos are not a difference to read)."""
    rows = []
    for r in result["models"]:
        on = r.get("shared") or r  # no shared photo: the whole sets, unpaired
        rows.append(
            {
                "model": label(r["model"]),
                "A": on["a"]["accuracy"],
                "B": on["b"]["accuracy"],
                "B − A (pts)": r["difference"] * 100,
                "on": "shared photos" if "shared" in r else "each run's own photos",
                "shared photos": r["shared_photos"],
                "p": r["test"]["p_value"],
                "verdict": "significant" if r["significant"] else "could be chance",
                "test": r["test"]["method"],
                "A, whole set": r["a"]["accuracy"],
                "A photos": r["a"].get("n"),
                "B, whole set": r["b"]["accuracy"],
                "B photos": r["b"].get("n"),
            }
        )
    return pd.DataFrame(rows)


def config_table(result: dict) -> pd.DataFrame:
    """The settings that differ between the two runs, as text."""
    return pd.DataFrame(
        [(k, str(a), str(b)) for k, (a, b) in result["config"].items()],
        columns=["setting", "A", "B"],
    )


def sweep_table(sweep: dict, runs: dict[str, artifacts.Run]) -> pd.DataFrame:
    """One row per run of the sweep found in `runs`: its settings, its id, each model's
    validation accuracy (a column per model label)."""
    rows = []
    for entry in sweep["runs"]:
        run = runs.get(entry["run_id"])
        if run is None:
            continue
        row = {**entry["values"], "run": entry["run_id"]}
        row |= {label(r["name"]): r["metrics"]["accuracy"] for r in run.model_records()}
        rows.append(row)
    return pd.DataFrame(rows)


def sweep_label(sweep: dict) -> str:
    return f"{sweep['sweep_id']} ({len(sweep['runs'])} runs over {', '.join(sweep['grid'])})"


# Efficiency frontier


def efficiency_table(rows: list[dict]) -> pd.DataFrame:
    """The analysis's efficiency rows as shown: accuracy, latency with its noise, size, and
    whether the model is on the frontier (models without a latency are not)."""
    return pd.DataFrame(
        {
            "model": [label(r["name"]) for r in rows],
            "accuracy": [r["accuracy"] for r in rows],
            "latency (ms)": [r["latency_ms"] for r in rows],
            "interquartile range (ms)": [
                f"{r['latency_q1_ms']:.1f} – {r['latency_q3_ms']:.1f}"
                if r.get("latency_q1_ms") is not None
                else "–"
                for r in rows
            ],
            "size (MB)": [r["size_mb"] for r in rows],
            "params": [r["params"] for r in rows],
            "on frontier": [r.get("on_frontier", False) for r in rows],
            "extra ms per accuracy point": [
                f"{r['ms_per_point']:.2f}" if "ms_per_point" in r else "–" for r in rows
            ],
        }
    )
