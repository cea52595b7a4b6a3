"""Photos every model confidently puts in the other class: label errors, or photos of neither
class."""

import streamlit as st

from dashboard import data, widgets
from dashboard.settings import data_folder, label, p_positive
from pipeline.evaluation import analysis
from pipeline.store.predictions import confidence_of, is_binary

COLUMNS = 4

st.title("Suspect labels")
run = data.require_run()
result = data.require_analysis(run)
classes = run.class_names
two = is_binary(classes)
other = "the other class" if two else "the same other class"
scored = data.available(run, data.predictions)  # models whose predictions are there
names = list(scored)
stored_threshold = result["suspects"]["min_confidence"]

issues = data.label_issues(run)
summary = data.label_issues_summary(run)
top = st.columns(2)
top[0].metric(
    "Every model disagrees (validation photos)",
    result["suspects"]["count"],
    help="Validation photos only: none of them was trained on.",
)
if summary is not None:
    top[1].metric(
        "Likely label errors (every photo)",
        summary["count"],
        f"{summary['in_training']:,} in training",
        delta_color="off",
    )
agree_tab, every_tab = st.tabs(["Every model disagrees", "Across every photo"])
with every_tab:
    widgets.label_issues(run, issues, summary)
with agree_tab:
    known = (
        "The PetImages set is known to hold mislabeled photos and photos with no animal at all"
        if data_folder(run.manifest) == "PetImages"
        else "Photo sets gathered by hand or from the web often hold mislabeled photos and photos "
        "of neither class"
    )
    st.markdown(
        f"Validation photos that **every chosen model** assigns to {other} with at least "
        f"the chosen confidence. {known}; these are the first to check. Removing photos only "
        "because the models disagree with them would flatter the models, so review them before "
        "excluding."
    )
    left, right = st.columns([3, 2])
    judges = left.multiselect(
        "Models that must all disagree with the label",
        names,
        default=names,
        format_func=label,
        key="suspect_models",
        help="The weak CNNs rarely agree confidently; the two MobileNetV2s alone find more.",
    )
    threshold = right.slider(
        "Minimum confidence in the other class" if two else "Minimum confidence in that class",
        0.5,
        0.999,
        stored_threshold,
        0.001,
        key="suspect_threshold",
    )
    if not judges:
        st.info("Pick at least one model.")
        st.stop()
    if sorted(judges) == sorted(names) and threshold == stored_threshold:
        found = data.suspects(str(run.path))  # the list the pipeline stored
    else:
        wide = analysis.wide_predictions({n: scored[n] for n in judges}, classes)
        found = analysis.suspects(wide, judges, threshold, class_names=classes)
    if found is None or found.empty:
        st.success(f"No photo is put in {other} that confidently by every chosen model.")
        st.stop()

    st.metric("Suspect photos", len(found))
    st.download_button(
        "Download the list (CSV)",
        found.to_csv(index=False).encode(),
        file_name=f"suspects-{run.run_id}.csv",
        mime="text/csv",
        key="suspects_csv",
    )
    st.markdown("After reviewing, keep the rows you want left out and train again with:")
    st.code(f"python -m pipeline train --exclude-file suspects-{run.run_id}.csv", language="bash")
    st.caption(
        "The path column comes first, so the CSV is an exclusion file as is; the next run "
        "records the file and the excluded photos in its manifest."
    )

    shown = found.head(24)
    for start in range(0, len(shown), COLUMNS):
        for column, (_, row) in zip(
            st.columns(COLUMNS), shown.iloc[start : start + COLUMNS].iterrows(), strict=False
        ):
            thumb = run.thumb_of(row.path)
            says = classes[1 - int(row.label)] if two else row.suspected_class
            caption = (
                f"labelled {classes[int(row.label)]}; every model says "
                f"{says} (≥ {row.min_confidence_other:.0%})"
            )
            if thumb is not None:
                column.image(str(thumb), caption=caption, width="stretch")
            else:
                column.write(caption)
            column.caption(row.path)

    st.subheader("Why do the models disagree with the label?")
    pick = st.selectbox("Photo", shown.path.tolist(), key="suspect_pick")
    answers = {}
    for name, frame in scored.items():
        row = frame[frame.path == pick]
        if two:
            answers[name] = float(row["p_dog"].iloc[0])  # the stored column
        else:
            answers[name] = (int(row.predicted.iloc[0]), float(confidence_of(row, classes)[0]))
    widgets.validation_photo_explanations(run, pick, answers, key="suspect")
    shown_p = p_positive(classes) if two else "P(suspected class)"
    st.dataframe(
        found.rename(columns={f"p_{n}": f"{shown_p} {label(n)}" for n in judges}),
        hide_index=True,
        width="stretch",
        key="suspects_table",
    )
