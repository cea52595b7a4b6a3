"""How robust is each model? Accuracy under common corruptions, and what flips."""

import streamlit as st

from dashboard import charts, data, tables, widgets
from dashboard.settings import label, p_positive

st.title("How robust is each model?")
run = data.require_run()
result = data.robustness(run)
if result is None:
    st.info("This run has no robustness analysis yet. Make it (a few minutes, no retraining) with:")
    st.code(f"python -m pipeline analyze {run.path} --robustness", "bash")
    st.stop()

names = tables.robust_models(result, run)
n_photos = len(result["photos"])
st.caption(
    f"Every model scored on the same {n_photos} validation photos (a seeded subset, "
    f"{'both classes' if len(run.class_names) == 2 else 'every class'} in proportion), "
    "clean and under each corruption. A corruption is applied to the "
    "photo at its own size, then it goes through the models' usual resize; 'TensorFlow "
    "bilinear resize' instead replaces that resize by `tf.image.resize`'s default (no "
    "antialiasing). Intervals: 95% Wilson, for this subset."
)
widgets.table(
    tables.accuracy_under_corruptions(result, names),
    {label(n): "{:.1%}" for n in names},
    "robustness_table",
)

choices = tables.corruption_choices(result)
chosen = st.selectbox("Corruption", list(choices), key="robustness_corruption")
st.plotly_chart(
    charts.robustness_curves(result, choices[chosen]), width="stretch", key="robustness_plot"
)

st.subheader("Resize method")
widgets.table(tables.resize_gaps(result, names), tables.RESIZE_GAP_FORMATS, "resize_gap_table")
every = data.resize_gap(run)
if every:
    st.markdown(f"On **all {tables.photos_in_gap(every):,} validation photos**:")
    widgets.table(
        tables.resize_gaps_everywhere(every),
        tables.RESIZE_GAP_ALL_FORMATS,
        "resize_gap_all_table",
    )
else:
    st.caption(
        "On the subset above. For every validation photo (about a minute per model): "
        f"`python -m pipeline analyze {run.path} --resize-gap`."
    )
st.caption(
    "A model that loses accuracy here will do worse for anyone who feeds it photos resized "
    "the common TensorFlow way than this dashboard reports: feed it through "
    "`pipeline.data.images.load_model_input`, as the pipeline and the Live page do."
)

st.subheader("Photos whose answer flips under the mildest corruption")
col1, col2 = st.columns(2)
model = col1.selectbox("Model", names, format_func=label, key="flip_model")
corruption = col2.selectbox("Corruption", list(choices), key="flip_corruption")
frame = tables.flips(
    result, run.class_names, model, corruption=choices[corruption], shown_as=corruption
)
if frame.empty:
    st.success(f"No photo changes its answer from {label(model)} under mild {corruption}.")
else:
    st.write(f"{len(frame)} of {n_photos} photos change {label(model)}'s answer.")
    p = p_positive(run.class_names)
    formats = {f"{p} clean": "{:.3f}", f"{p} {corruption}": "{:.3f}"}
    widgets.table(frame, formats if len(run.class_names) == 2 else {}, "flips_table")
    seen = data.seen_under_corruption(
        run, model, choices[corruption], photos=frame.photo[:6].tolist()
    )
    if seen:
        for column, (path, pixels) in zip(st.columns(len(seen)), seen, strict=True):
            column.image(pixels, caption=f"{path} as the model saw it", width="stretch")
