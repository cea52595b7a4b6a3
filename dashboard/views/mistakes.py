"""Browse each model's mistakes, and see which photos fool which models."""

import pandas as pd
import streamlit as st

from dashboard import charts, data, mistakes, widgets
from dashboard import classes as nclass
from dashboard.settings import artifacts_dir, label, negative_name, p_of, p_positive
from pipeline.store.predictions import is_binary, probabilities_of

GALLERY_LIMIT = 40
COLUMNS = 5

st.title("Misclassifications")
run = data.require_run()
classes = run.class_names
two = is_binary(classes)
names = run.model_names()
group = data.repeat_group(str(artifacts_dir()), run.run_id)
repeats = len(group["summary"]["runs"]) if group else 0
counts = data.repeat_wrong_counts(str(artifacts_dir()), group["group_id"]) if group else None

tab_gallery, tab_cross = st.tabs(["Gallery per model", "Across models"])

with tab_gallery:
    col1, col2, col3, col4 = st.columns([3, 1.3, 2, 1.5])
    chosen = col1.multiselect(
        "Models", names, default=names[:1], format_func=label, key="mis_models"
    )
    true_class = col2.selectbox("True class", ["any", *classes], key="mis_true")
    predicted_class = "any"
    if not two:
        predicted_class = col2.selectbox("Predicted as", ["any", *classes], key="mis_predicted")
    low, high = col3.slider(
        "Confidence in the wrong answer",
        0.5 if two else 0.0,
        1.0,
        (0.5 if two else 0.0, 1.0),
        0.01,
        key="mis_conf",
    )
    sorts = ["most confident first", "least confident first"]
    if repeats:
        sorts.append("wrong in most repeats first")
        repeat_filter = col4.selectbox(
            f"Wrong in the {repeats} repeats", mistakes.REPEAT_FILTERS, key="mis_repeats"
        )
    order = col4.selectbox("Sort", sorts, key="mis_sort")
    tables = data.available(run, data.misclassified, chosen)
    frames = [t.assign(model=n) for n, t in tables.items()]
    wrong = pd.concat(frames) if frames else pd.DataFrame(columns=["label", "confidence"])
    if true_class != "any":
        wrong = wrong[wrong.label == classes.index(true_class)]
    if predicted_class != "any":
        wrong = wrong[wrong.predicted == classes.index(predicted_class)]
    wrong = wrong[(wrong.confidence >= low) & (wrong.confidence <= high)]
    wrong = wrong.sort_values("confidence", ascending=order == "least confident first")
    if repeats:
        wrong = mistakes.by_repeats(
            mistakes.with_repeat_counts(wrong, counts), repeat_filter, repeats
        )
        if order == sorts[-1]:
            wrong = wrong.sort_values(["wrong_in", "confidence"], ascending=False)
    st.caption(f"{len(wrong):,} mistakes match; showing up to {GALLERY_LIMIT}.")
    if repeats:
        st.caption(
            f"This run is one of {repeats} repeats: a photo wrong in every repeat is a stable "
            "mistake of the model; one wrong in a few is seed noise."
        )
    if not two:
        st.caption("Confidence: the model's probability of the class it predicted.")
    shown = wrong.head(GALLERY_LIMIT)
    for start in range(0, len(shown), COLUMNS):
        for column, (_, row) in zip(
            st.columns(COLUMNS), shown.iloc[start : start + COLUMNS].iterrows(), strict=False
        ):
            thumb = run.thumb_path(row.thumb) if isinstance(row.thumb, str) else None
            caption = (
                f"{label(row.model)}: true {classes[int(row.label)]} → "
                f"{classes[int(row.predicted)]} ({row.confidence:.0%})"
            )
            if repeats and row.wrong_in == row.wrong_in:  # known for this model
                caption += f"; wrong in {int(row.wrong_in)} of {repeats} repeats"
            if thumb is not None and thumb.is_file():
                column.image(str(thumb), caption=caption, width="stretch")
            else:
                column.write(caption + " — thumbnail missing")
            column.caption(row.path)

with tab_cross:
    scored = data.available(run, data.predictions)
    names = list(scored)  # only models whose predictions are there
    if not names:
        st.info("No model of this run has its predictions.csv, so there is nothing to compare.")
        st.stop()
    wide = mistakes.wide_predictions(scored, classes)
    cross = mistakes.cross_model_mistakes(wide, names)
    summary = cross.missed_by.value_counts()
    st.write("Validation photos at least one model got wrong, grouped by who missed them:")
    cols = st.columns(5)
    for column, group in zip(
        cols, ["missed by all", "CNNs only", "MobileNetV2 only", "mixed"], strict=False
    ):
        column.metric(group, int(summary.get(group, 0)))
    group = st.selectbox(
        "Show", ["all", "missed by all", "CNNs only", "MobileNetV2 only", "mixed"], key="mis_group"
    )
    view = cross if group == "all" else cross[cross.missed_by == group]
    if two:
        table = view[["path", "label", "missed_by"] + [f"p_{n}" for n in names]].rename(
            columns={f"p_{n}": f"{p_positive(classes)} {label(n)}" for n in names}
        )
    else:
        table = mistakes.class_table(view, names, classes)
    table["label"] = [classes[int(v)] for v in table["label"]]
    st.dataframe(table, hide_index=True, width="stretch", key="cross_table")

    if len(view):
        pick = st.selectbox("Inspect a photo", view.path.tolist(), key="mis_pick")
        picked = view[view.path == pick]
        row = picked.iloc[0]
        left, right = st.columns([1, 2])
        thumb = run.thumb_of(pick)
        if thumb is not None:
            left.image(str(thumb), caption=f"{pick} (true: {classes[int(row.label)]})")
        if two:
            probs = pd.DataFrame(
                {
                    "model": [label(n) for n in names],
                    p_positive(classes): [row[f"p_{n}"] for n in names],
                    p_of(negative_name(classes)): [1 - row[f"p_{n}"] for n in names],
                    "verdict": [classes[int(row[f"pred_{n}"])] for n in names],
                    "correct": [not row[f"wrong_{n}"] for n in names],
                }
            )
            right.dataframe(probs, hide_index=True, key="pick_probs")
            right.bar_chart(probs.set_index("model")[p_positive(classes)], height=220)
            answers = {n: float(row[f"p_{n}"]) for n in names}
        else:
            probs = mistakes.photo_answers(picked, names, classes)
            right.dataframe(probs, hide_index=True, key="pick_probs")
            top = {
                n: nclass.top_k(
                    probabilities_of(scored[n][scored[n].path == pick], classes)[0], classes
                )
                for n in names
            }
            right.plotly_chart(charts.top_k_bars(top), width="stretch", key="pick_top_k")
            answers = {
                n: (int(row[f"pred_{n}"]), float(p))
                for n, p in zip(names, probs["P(verdict)"], strict=True)
            }
        st.markdown("**Where each model looked** (Grad-CAM)")
        widgets.validation_photo_explanations(run, pick, answers, key="pick")
