"""Does a model's 90% mean 90%? Reliability diagram, ECE and temperature scaling."""

import pandas as pd
import streamlit as st

from dashboard import charts, data, widgets
from dashboard.settings import label, negative_name, p_of, positive_name
from pipeline.store.predictions import is_binary

st.title("Calibration")
run = data.require_run()
result = data.require_analysis(run)
two = is_binary(run.class_names)
positive, negative = positive_name(run.class_names), negative_name(run.class_names)
p = p_of(positive)
reports = {n: result["per_model"][n]["calibration"] for n in result["per_model"]}

which = st.radio(
    "Probabilities",
    ["as trained", "after temperature scaling"],
    horizontal=True,
    key="calibration_which",
)
key = "before" if which == "as trained" else "after"
figure = (
    charts.reliability_diagram(reports, key, positive)
    if two
    else charts.top_label_reliability(reports, key)
)
st.plotly_chart(figure, width="stretch", key="reliability")
if not two:
    st.caption(
        "Photos are grouped into ten bins by the model's probability of the class it "
        "predicts (its confidence), and each point is a bin (its size grows with the number "
        "of photos). On the dotted diagonal, photos answered with 80% confidence are right 80% "
        "of the time. The legend's ECE is the photo-weighted average gap to the diagonal."
    )
else:
    st.caption(
        f"The diagram is binned on predicted {p}, not on confidence: photos are grouped into ten "
        f"equal bins of {p} and each point is a bin (its size grows with the number of photos). "
        f"On the dotted diagonal, photos given {p} = 0.8 are {positive} 80% of the time. The "
        f"legend's {p} ECE is the photo-weighted average gap to the diagonal."
    )
table = pd.DataFrame(
    {
        "model": [label(n) for n in reports],
        "ECE (top-label)": [r["before"]["ece"] for r in reports.values()],
        "log loss": [r["before"]["log_loss"] for r in reports.values()],
        "temperature T": [r["temperature"] for r in reports.values()],
        "ECE after": [r["after"]["ece"] for r in reports.values()],
        "log loss after": [r["after"]["log_loss"] for r in reports.values()],
    }
)
widgets.table(
    table,
    {
        "ECE (top-label)": "{:.2%}",
        "ECE after": "{:.2%}",
        "log loss": "{:.4f}",
        "log loss after": "{:.4f}",
        "temperature T": "{:.2f}",
    },
    "calibration_table",
)
confidence = f"max({p}, {p_of(negative)}), from 50% to 100%" if two else "its top probability"
st.caption(
    "ECE (top-label) is the standard expected calibration error: photos are grouped into ten "
    f"bins by the confidence in the class the model predicts, {confidence}, "
    "and each bin's accuracy is compared with its mean confidence ('ECE "
    "after' likewise, after temperature scaling). Temperature scaling divides each model's "
    "logit by one number T fitted to minimise log loss (T > 1: the model was over-confident). "
    "It never changes which class is predicted. The 'after' figures are cross-fitted: each "
    "half of the validation photos is scaled with a T fitted on the other half, so they are "
    "not measured on the photos T was fitted to."
)
