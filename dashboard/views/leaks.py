"""Near-duplicate photos: validation photos with a near-twin in training (leaks), groups within
each side, and every model's accuracy without the leaks."""

import pandas as pd
import streamlit as st

from dashboard import data, tables, widgets

PAIRS_SHOWN = 12

st.title("Near-duplicates and leaks")
run = data.require_run()
report = data.near_duplicates(run)
if report is None:
    st.info(
        "This run has no near-duplicate report. It is made from the pooled features of the "
        "MobileNetV2 the run trained on cached features, with the photos at hand: train with "
        "`--models mobilenetv2_frozen` (enough on its own), or analyse a run that has it again "
        f"with `python -m pipeline analyze {run.path}`."
    )
    st.stop()

rule = report["rule"]
leaks, within = report["leaks"], report["within"]
st.markdown(
    "A photo re-encoded, resized, cropped or slightly edited has other bytes than its "
    "original, so the split can put one copy in training and the other in validation. The "
    "model then recognises a photo it has seen: its score on that photo measures memory, not "
    "generalisation. Two photos are near-duplicates when their MobileNetV2 features are among "
    f"each other's {rule['candidates']} most alike (cosine ≥ {rule['pooled_floor']}) **and** "
    f"their {rule['signature_side']}x{rule['signature_side']} colour thumbnails correlate at "
    f"≥ {rule['pixel_threshold']}."
)
n_val = report["photos"]["val"]
cols = st.columns(4)
cols[0].metric(
    "Leaks into validation",
    f"{leaks['count']:,}",
    f"{leaks['share']:.2%} of {n_val:,}",
    delta_color="off",
)
cols[1].metric("…with another label", f"{leaks['different_label']:,}")
cols[2].metric("Groups within training", f"{within['train']['groups']:,}")
cols[3].metric("Groups within validation", f"{within['val']['groups']:,}")

st.subheader("Accuracy without the leaks")
scores = tables.leak_free_table(report)
widgets.table(scores, dict.fromkeys(scores.columns[1::2], "{:.2%}"), "leak_scores")
st.caption(
    "Each accuracy with its 95% Wilson interval. 'Without leaks' scores the validation photos "
    "with no near-duplicate in training: the number that measures generalisation."
)
if not leaks["count"]:
    st.success("No validation photo has a near-duplicate among the training photos.")
    st.stop()

pairs = pd.DataFrame(leaks["pairs"])
st.download_button(
    "Download the leaked validation photos (CSV, an exclusion file)",
    pairs.rename(columns={"val": "path"}).to_csv(index=False).encode(),
    file_name=f"leaks-{run.run_id}.csv",
    mime="text/csv",
    key="leaks_csv",
)
st.subheader("The leaks, most alike first")
classes = run.class_names
shown = st.number_input(
    "Pairs shown", 1, len(pairs), min(PAIRS_SHOWN, len(pairs)), key="leak_pairs_shown"
)


for _, row in pairs.head(int(shown)).iterrows():
    left, right, about = st.columns([2, 2, 3])
    widgets.photo(left, run, row.val, caption=f"validation: {row.val}")
    widgets.photo(right, run, row.train, caption=f"training: {row.train}")
    same = row.val_label == row.train_label
    about.markdown(
        f"pixels correlate **{row.pixels:.3f}**, features {row.pooled:.3f}  \n"
        f"labels: {classes[row.val_label]} / {classes[row.train_label]}"
        + ("" if same else " — **the copies disagree**")
    )
with st.expander(f"Groups within training ({within['train']['groups']:,})"):
    st.dataframe(
        pd.DataFrame({"photos": [", ".join(g) for g in within["train"]["examples"]]}),
        hide_index=True,
        key="train_groups",
    )
with st.expander(f"Groups within validation ({within['val']['groups']:,})"):
    st.dataframe(
        pd.DataFrame({"photos": [", ".join(g) for g in within["val"]["examples"]]}),
        hide_index=True,
        key="val_groups",
    )
