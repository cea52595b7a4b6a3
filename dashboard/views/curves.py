"""Accuracy and loss per epoch, training vs validation, for every model."""

import streamlit as st

from dashboard import charts, data
from dashboard.settings import label

st.title("Training curves")
run = data.require_run()
names = run.model_names()
col1, col2, col3 = st.columns([3, 1, 1])
chosen = col1.multiselect("Models", names, default=names, format_func=label, key="curves_models")
metric = col2.radio("Metric", ["accuracy", "loss"], key="curves_metric", horizontal=True)
layout = col3.radio("Layout", ["overlay", "panels"], key="curves_layout", horizontal=True)
histories = data.available(run, data.history, chosen)
if not histories:
    st.info("Pick at least one model.")
    st.stop()
st.plotly_chart(
    charts.learning_curves(histories, metric, layout), width="stretch", key="curves_chart"
)
st.caption(
    "Dotted: training (with augmentation and dropout on), solid: validation. The fine-tuned "
    "MobileNetV2 continues the frozen model's epochs; the shaded band is its fine-tuning phase."
)
with st.expander("Epoch table"):
    for name, frame in histories.items():
        st.markdown(f"**{label(name)}**")
        st.dataframe(frame, hide_index=True, key=f"history_{name}")
