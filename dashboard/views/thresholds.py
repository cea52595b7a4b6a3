"""ROC and precision-recall curves, and what moving the decision threshold does."""

import pandas as pd
import streamlit as st

from dashboard import charts, data, widgets
from dashboard.settings import label, p_positive, positive_name
from pipeline.evaluation import metrics
from pipeline.store.predictions import is_binary

st.title("Thresholds and ranking")
run = data.require_run()
result = data.require_analysis(run)
classes = run.class_names
if not is_binary(classes):
    widgets.class_thresholds(run, result)
    st.stop()
positive = positive_name(classes)
curves = {n: result["per_model"][n]["curves"] for n in result["per_model"]}

zoom = st.toggle("Zoom into the corner where the strong models differ", key="curves_zoom")
left, right = st.columns(2)
with left:
    st.subheader("ROC")
    st.plotly_chart(
        charts.ranking_curves(curves, "roc", positive, zoom=zoom), width="stretch", key="roc"
    )
with right:
    st.subheader("Precision–recall")
    st.plotly_chart(
        charts.ranking_curves(curves, "pr", positive, zoom=zoom), width="stretch", key="pr"
    )
st.caption(
    f"Positive class: {positive}. The curves show every threshold at once; the area under "
    "them measures how well a model ranks photos, whatever threshold is chosen."
)

st.subheader("Move the threshold")
threshold = st.slider(
    f"Call a photo {positive} when {p_positive(classes)} ≥",
    0.01,
    0.99,
    0.5,
    0.01,
    key="threshold",
)
predictions = data.available(run, data.predictions)
rows = []
columns = st.columns(max(1, len(predictions)))
for column, (name, frame) in zip(columns, predictions.items(), strict=False):
    labels, p = frame.label.to_numpy(), frame.p_dog.to_numpy()
    scores = metrics.classification_metrics(labels, p, threshold)
    matrix = metrics.confusion(labels, p, threshold)
    column.plotly_chart(
        charts.confusion_heatmap(matrix, classes, False, title=f"{label(name)} at {threshold:.2f}"),
        width="stretch",
        key=f"thr_cm_{name}",
    )
    default = metrics.classification_metrics(labels, p, 0.5)
    rows.append(
        {
            "model": label(name),
            "accuracy": scores["accuracy"],
            "Δ accuracy vs 0.5 (pts)": (scores["accuracy"] - default["accuracy"]) * 100,
            f"precision ({positive})": scores["precision"],
            f"recall ({positive})": scores["recall"],
            "F1": scores["f1"],
            "errors": int(matrix[0][1] + matrix[1][0]),
        }
    )
widgets.table(
    pd.DataFrame(rows),
    {
        "accuracy": "{:.2%}",
        "Δ accuracy vs 0.5 (pts)": "{:+.2f}",
        f"precision ({positive})": "{:.3f}",
        f"recall ({positive})": "{:.3f}",
        "F1": "{:.3f}",
    },
    "threshold_table",
)
st.caption(
    "Chosen on the validation photos themselves, a threshold that looks better here is "
    "optimistic; use it as a what-if, not as a new headline accuracy."
)
