"""Accuracy and loss per epoch, training vs validation, for every model."""

import streamlit as st

from dashboard import charts, data
from dashboard.settings import artifacts_dir, label

st.title("Training curves")
run = data.require_run(allow_training=True)
status = data.training_status(run)
names = run.model_names() + ([status["model"]] if status else [])
col1, col2, col3 = st.columns([3, 1, 1])
chosen = col1.multiselect("Models", names, default=names, format_func=label, key="curves_models")
metric = col2.radio("Metric", ["accuracy", "loss"], key="curves_metric", horizontal=True)
layout = col3.radio("Layout", ["overlay", "panels"], key="curves_layout", horizontal=True)
if not chosen:
    st.info("Pick at least one model.")
    st.stop()


@st.fragment(run_every=5 if status else None)
def curves() -> dict:
    """The chart; while a model trains, this part alone reruns every 5 s with its new epochs."""
    now = data.training_status(run)
    finished = [n for n in chosen if n != (now or status or {}).get("model")]
    histories = data.available(run, data.history, finished)
    untrained = [n for n, frame in histories.items() if frame.empty]
    for name in untrained:  # an external model was trained elsewhere: no epochs here
        del histories[name]
    if untrained:
        st.caption("No training history here (trained elsewhere): " + ", ".join(untrained))
    if now and now["model"] in chosen:
        so_far = run.epochs_so_far(now["model"])
        if len(so_far):
            histories[now["model"]] = so_far
            st.caption(f"{label(now['model'])}: {len(so_far)} epoch(s) so far, still training.")
    if histories:
        st.plotly_chart(
            charts.learning_curves(histories, metric, layout), width="stretch", key="curves_chart"
        )
    return histories


histories = curves()
group = data.repeat_group(str(artifacts_dir()), run.run_id)
if group is not None and histories:
    runs = group["summary"]["runs"]
    if st.toggle(
        f"The mean over the group's {len(runs)} repeats, in a band from lowest to highest",
        key="curves_repeats",
    ):
        over = data.group_histories(str(artifacts_dir()), runs, list(histories))
        st.plotly_chart(
            charts.repeat_curves(over, metric),
            width="stretch",
            key="curves_repeat_chart",
        )
st.caption(
    "Dotted: training (with augmentation and dropout on), solid: validation. The fine-tuned "
    "MobileNetV2 continues the frozen model's epochs; the shaded band is its fine-tuning phase."
)
with st.expander("Epoch table"):
    for name, frame in histories.items():
        st.markdown(f"**{label(name)}**")
        st.dataframe(frame, hide_index=True, key=f"history_{name}")
