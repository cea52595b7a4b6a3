"""Does a model's 90% mean 90%? Reliability diagram, ECE and temperature scaling."""

import pandas as pd
import streamlit as st

from dashboard import charts, data, widgets
from dashboard.settings import label

st.title("Calibration")
run = data.require_run()
result = data.require_analysis(run)
reports = {n: result["per_model"][n]["calibration"] for n in result["per_model"]}

which = st.radio(
    "Probabilities",
    ["as trained", "after temperature scaling"],
    horizontal=True,
    key="calibration_which",
)
key = "before" if which == "as trained" else "after"
st.plotly_chart(charts.reliability_diagram(reports, key), width="stretch", key="reliability")
st.caption(
    "The diagram is binned on predicted P(dog), not on confidence: photos are grouped into ten "
    "equal bins of P(dog) and each point is a bin (its size grows with the number of photos). "
    "On the dotted diagonal, photos given P(dog) = 0.8 are dogs 80% of the time. The legend's "
    "P(dog) ECE is the photo-weighted average gap to the diagonal."
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
st.caption(
    "ECE (top-label) is the standard expected calibration error: photos are grouped into ten "
    "bins by the confidence in the class the model predicts, max(P(dog), P(cat)), from 50% to "
    "100%, and each bin's accuracy is compared with its mean confidence ('ECE after' likewise, "
    "after temperature scaling). Temperature scaling divides each model's logit by one number "
    "T fitted to minimise log loss (T > 1: the model was over-confident). It never changes "
    "which class is predicted. The 'after' figures are cross-fitted: each half of the "
    "validation photos is scaled with a T fitted on the other half, so they are not measured "
    "on the photos T was fitted to."
)
