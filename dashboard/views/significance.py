"""Is one model really better? Intervals, paired McNemar tests and agreement."""

import pandas as pd
import streamlit as st

from dashboard import charts, data, widgets
from dashboard.settings import label

st.title("Is the difference real?")
run = data.require_run()
result = data.require_analysis(run)
per_model = result["per_model"]
n = next(iter(per_model.values()))["n"] if per_model else 0

st.subheader("Accuracy with its uncertainty")
st.plotly_chart(charts.accuracy_intervals(per_model), width="stretch", key="ci_chart")
st.caption(
    f"95% Wilson intervals on {n:,} validation photos: the range of accuracies this model "
    "could have on photos like these, given how many it got right here. Overlapping "
    "intervals alone do not settle a comparison — the paired test below does."
)

st.subheader("Pairwise McNemar tests")
st.markdown(
    "All four models answered the *same* photos, so a fair test looks only at photos where "
    "exactly one of two models is right. p-values are Holm-adjusted for the six comparisons."
)
for row in result["mcnemar"]:
    st.markdown(
        ("**Significant.** " if row["significant"] else "**Not significant.** ") + row["verdict"]
    )
table = pd.DataFrame(
    {
        "model A": [label(r["model_a"]) for r in result["mcnemar"]],
        "model B": [label(r["model_b"]) for r in result["mcnemar"]],
        "only A right": [r["a_only"] for r in result["mcnemar"]],
        "only B right": [r["b_only"] for r in result["mcnemar"]],
        "test": [r["method"] for r in result["mcnemar"]],
        "p": [r["p_value"] for r in result["mcnemar"]],
        "p (Holm)": [r["p_holm"] for r in result["mcnemar"]],
        "significant at 5%": [r["significant"] for r in result["mcnemar"]],
    }
)
widgets.table(
    table,
    {"p": "{:.2g}", "p (Holm)": "{:.2g}"},
    "mcnemar_table",
)

st.subheader("How often do they agree?")
st.plotly_chart(charts.agreement_heatmap(result["agreement"]), width="stretch", key="agreement")
st.caption(
    "Share of validation photos on which two models predict the same class. Two models with "
    "similar accuracy but low agreement make different mistakes: an ensemble could help."
)
