"""Leaderboard of the four models and the run's record."""

import pandas as pd
import streamlit as st

from dashboard import data, widgets
from dashboard.settings import label
from pipeline.evaluation.stats import wilson_interval
from pipeline.registry import spec
from pipeline.store import artifacts


def _where(manifest: dict) -> str:
    """This process, or the Ray cluster the run's models trained on; and the input settings."""
    cluster = manifest.get("cluster")
    where = "one process"
    if cluster:
        gpus = f", {cluster['gpus']} GPU(s)" if cluster.get("gpus") else ""
        where = f"Ray, {cluster['nodes']} node(s), {cluster['cpus']} CPU(s){gpus}"
    pipeline = manifest.get("input_pipeline")
    if pipeline:
        where += f"; input pipeline for {pipeline['device']}, inference batch "
        where += str(pipeline["inference_batch"])
    return where


def _split_text(dataset: dict, duplicates: dict) -> str:
    text = f"{dataset['val_fraction']:.0%} validation, seed {dataset['seed']}, "
    text += "by photo content hash" if duplicates else "by file path hash"
    if dataset.get("dev_fraction"):
        text += (
            f"; dev split: {dataset['dev_fraction']:.0%} of the training photos scored instead, "
            f"{dataset['counts'].get('held_out', 0):,} validation photos left out"
        )
    return text


st.title("Overview")
run = data.require_run()
manifest = run.manifest

rows = []
for record in run.model_records():
    m = record["metrics"]
    reference = spec(record["name"]).reference_accuracy
    low, high = wilson_interval(round(m["accuracy"] * m["n"]), m["n"])
    rows.append(
        {
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
    )
board = pd.DataFrame(rows)
widgets.table(
    board,
    {
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
    },
    "leaderboard",
)
n_val = sum(manifest["dataset"]["counts"]["val"].values())
if manifest["dataset"].get("dev_fraction"):
    st.warning(
        f"A tuning run on a dev split: these accuracies are on {n_val:,} photos carved from the "
        "training photos, not on the validation photos (left out of this run). Compare it with "
        "other dev-split runs, not with the reference.",
        icon=":material/science:",
    )
st.caption(
    f"Validation: {n_val:,} held-out photos the models never trained on. Reference: the Kaggle "
    "notebook's validation accuracy (224px, 24,998 photos). 95% interval: Wilson score "
    "interval of the accuracy; see 'Is the difference real?' for paired tests. Latency: one "
    "image, one model, after warm-up, on the machine that ran the pipeline."
)

missing = [m for m in manifest.get("planned_models", []) if m not in run.model_names()]
if missing:
    st.warning("Not in this run (yet): " + ", ".join(label(m) for m in missing))
for note in manifest.get("notes", []):
    st.info(note)

st.subheader("The run")
if manifest.get("schema_version", 1) < 2:
    st.caption("Made by an older version: it has no file inventory, so it cannot be verified.")
else:
    mtime = (run.path / artifacts.MANIFEST).stat().st_mtime
    problems = data.verification(str(run.path), mtime)
    if not problems:
        st.success(
            "Verified: every file matches the sha256 its manifest recorded, the split matches "
            "the run's data fingerprint, and every model's predictions cover exactly the "
            "validation photos.",
            icon=":material/verified:",
        )
    else:
        shown = "\n".join(f"- {p}" for p in problems[:20])
        st.error(f"Not verified ({len(problems)} problem(s)):\n\n{shown}", icon=":material/error:")
    st.caption(f"Check it from a terminal with `python -m pipeline verify {run.path}`.")
dataset, weights, env = manifest["dataset"], manifest.get("weights") or {}, manifest["environment"]
counts = dataset["counts"]
col1, col2, col3, col4 = st.columns(4)
col1.metric("Photos found", f"{counts['found']:,}")
col2.metric(
    "Used (train / validation)",
    f"{sum(counts['train'].values()):,} / {sum(counts['val'].values()):,}",
)
col3.metric("Skipped / converted", f"{counts['skipped']:,} / {counts['converted']:,}")
duplicates = dataset.get("duplicates") or {}
col4.metric(
    "Duplicate groups",
    f"{duplicates.get('groups', 0):,}" if duplicates else "–",
    help="Groups of photos with identical content under different names. Each group stays "
    "on one side of the split, so no photo is validated on after being trained on.",
)
details = {
    "run id": manifest["run_id"],
    "status": manifest["status"],
    "created": manifest["created"],
    "profile": manifest["config"]["profile"],
    "data folder": dataset["root"],
    "classes (label 0, 1)": ", ".join(dataset["class_names"]),
    "split": _split_text(dataset, duplicates),
    "identity": (manifest.get("identity") or {}).get("key", "–"),
    "per class, train": str(counts["train"]),
    "per class, validation": str(counts["val"]),
    "weights": weights.get("source", "–"),
    "weights sha256": weights.get("sha256", "–"),
    "versions": f"Python {env['python']}, TensorFlow {env['tensorflow']}, Keras {env['keras']}",
    "machine": f"{env['cpu']} ({env['cpu_count']} cores)",
    "trained on": _where(manifest),
}
st.table(pd.DataFrame(details.items(), columns=["", "value"]).set_index(""))
if weights.get("kind") == "file":
    st.caption(
        "Local weights file: see its README for what it is (ImageNet backbone whose top "
        "blocks saw extra dog photos), not byte-identical with Keras' ImageNet download."
    )
if dataset["skipped"]:
    with st.expander(f"Skipped files ({len(dataset['skipped'])})"):
        st.dataframe(pd.DataFrame(dataset["skipped"]), hide_index=True, key="skipped_table")
unmatched = dataset.get("unmatched_exclusions") or []
if unmatched:
    with st.expander(f"Exclusion list entries that matched no photo ({len(unmatched)})"):
        st.dataframe(pd.DataFrame({"entry": unmatched}), hide_index=True, key="unmatched_table")
if duplicates.get("conflicting_labels"):
    st.warning(
        f"{duplicates['conflicting_labels']} group(s) of identical photos carry both labels; "
        "one of each such pair is necessarily scored wrong. Examples are in the manifest "
        "(dataset → duplicates)."
    )
with st.expander("Full manifest (JSON)"):
    st.json(manifest, expanded=False)
