"""Confusion matrices side by side, with per-class precision and recall."""

import pandas as pd
import streamlit as st

from dashboard import charts, data
from dashboard.settings import label

st.title("Confusion matrices")
run = data.require_run()
mode = st.radio("Show", ["counts", "row-normalized"], horizontal=True, key="cm_mode")
matrices = data.available(run, data.confusion)
columns = st.columns(max(1, len(matrices)))
for column, (name, cm) in zip(columns, matrices.items(), strict=False):
    with column:
        st.plotly_chart(
            charts.confusion_heatmap(
                cm["matrix"], cm["class_names"], mode != "counts", title=label(name)
            ),
            width="stretch",
            key=f"cm_{name}",
        )
        table = pd.DataFrame(cm["per_class"]).T
        st.dataframe(
            table.style.format({"precision": "{:.3f}", "recall": "{:.3f}"}), key=f"cm_table_{name}"
        )
st.caption(
    "Rows are the true class, columns the prediction (threshold 0.5). Hover a cell "
    "for its count and its share of the true class."
)
