"""Leaderboard of the four models and the run's record."""

import pandas as pd
import streamlit as st

from dashboard import data, tables, widgets
from dashboard.settings import WEIGHTS_FILE_NOTE, data_folder, label
from pipeline.store.predictions import is_binary

DUPLICATES_HELP = (
    "Groups of photos with identical content under different names. Each group stays "
    "on one side of the split, so no photo is validated on after being trained on."
)

st.title("Overview")
run = data.require_run()
manifest = run.manifest

near = data.near_duplicates(run)
board = tables.with_leak_free_accuracy(tables.leaderboard(run), near)
widgets.table(board, tables.leaderboard_formats(board), "leaderboard")
n_val = tables.validation_count(manifest)
if near is not None and near["leaks"]["count"]:
    st.warning(
        f"{near['leaks']['count']:,} validation photo(s) have a near-duplicate among the "
        "training photos (re-encoded, resized or cropped copies): 'without leaks' scores the "
        "others. See 'Near-duplicates and leaks'.",
        icon=":material/content_copy:",
    )
elif near is not None:
    st.caption("Checked: no validation photo has a near-duplicate among the training photos.")
if manifest["dataset"].get("dev_fraction"):
    st.warning(
        f"A tuning run on a dev split: these accuracies are on {n_val:,} photos carved from the "
        "training photos, not on the validation photos (left out of this run). Compare it with "
        "other dev-split runs, not with the reference.",
        icon=":material/science:",
    )
reference = "the Kaggle notebook's validation accuracy on PetImages (224px, 24,998 photos)"
if data_folder(manifest) != "PetImages":
    reference += ", not on this run's data"
st.caption(
    f"Validation: {n_val:,} held-out photos the models never trained on. Reference: "
    f"{reference}. 95% interval: Wilson score interval of the accuracy; see 'Is the "
    "difference real?' for paired tests. Latency: one image, one model, after warm-up, on "
    "the machine that ran the pipeline."
)

if not is_binary(run.class_names):
    widgets.class_overview(run)

missing = tables.missing_models(run)
if missing:
    st.warning("Not in this run (yet): " + ", ".join(label(m) for m in missing))
for note in manifest.get("notes", []):
    st.info(note)

st.subheader("The run")
if manifest.get("schema_version", 1) < 2:
    st.caption("Made by an older version: it has no file inventory, so it cannot be verified.")
else:
    problems = data.problems(run)
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
dataset, weights = manifest["dataset"], manifest.get("weights") or {}
duplicates = dataset.get("duplicates") or {}
figures = tables.dataset_figures(dataset)
for column, (name, value) in zip(st.columns(len(figures)), figures.items(), strict=True):
    column.metric(name, value, help=DUPLICATES_HELP if name == "Duplicate groups" else None)
st.table(tables.run_details(manifest))
if weights.get("kind") == "file":
    st.caption(WEIGHTS_FILE_NOTE)
if dataset["skipped"]:
    with st.expander(f"Skipped files ({len(dataset['skipped'])})"):
        st.dataframe(pd.DataFrame(dataset["skipped"]), hide_index=True, key="skipped_table")
unmatched = dataset.get("unmatched_exclusions") or []
if unmatched:
    with st.expander(f"Exclusion list entries that matched no photo ({len(unmatched)})"):
        st.dataframe(pd.DataFrame({"entry": unmatched}), hide_index=True, key="unmatched_table")
for warning in dataset.get("warnings") or []:
    st.warning(warning[:1].upper() + warning[1:], icon=":material/balance:")
leaks = dataset.get("leaks") or {}
if leaks.get("count"):
    st.warning(
        f"{leaks['count']:,} validation photo(s) are identical to a training photo, so the "
        "given split leaks: those photos' scores measure memory, not generalisation. "
        "Examples are in the manifest (dataset → leaks)."
    )
if duplicates.get("conflicting_labels"):
    st.warning(
        f"{duplicates['conflicting_labels']} group(s) of identical photos carry both labels; "
        "one of each such pair is necessarily scored wrong. Examples are in the manifest "
        "(dataset → duplicates)."
    )
with st.expander("Full manifest (JSON)"):
    st.json(manifest, expanded=False)
