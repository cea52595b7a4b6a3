"""What each point of accuracy costs: accuracy against latency and size."""

import streamlit as st

from dashboard import charts, data, tables, widgets

st.title("Efficiency frontier")
run = data.require_run()
result = data.require_analysis(run)
rows = result["efficiency"]

st.plotly_chart(charts.efficiency_frontier(rows), width="stretch", key="frontier")
timed = result.get("latency")
if timed:
    machine = timed["machine"]
    calls = min(t["calls"] for t in timed["per_model"].values())
    st.caption(
        f"Latency: one image through one model, {calls} calls per model in interleaved rounds "
        f"after warm-up, on {machine['cpu']} ({machine['cpu_count']} cores; "
        f"{' '.join(machine['cpu_flags']) or 'no flags of note'}). Bars: interquartile range. "
        "Marker area: size of the saved model. Dotted: the frontier. A model is off it only "
        "when another is at least as accurate, not measurably slower, and more accurate or "
        "measurably faster (interquartile ranges apart): a gap inside the noise decides nothing."
    )
else:
    st.caption(
        "Latency: one image through one model, timed once at the end of training (this run "
        "was analysed before latencies were repeated: `python -m pipeline analyze RUN` times "
        "them again with their noise). Marker area: size of the saved model. Dotted: the "
        "frontier — models no other model beats on both accuracy and latency."
    )
widgets.table(
    tables.efficiency_table(rows),
    {
        "accuracy": "{:.2%}",
        "latency (ms)": "{:.1f}",
        "size (MB)": "{:.1f}",
        "params": "{:,}",
    },
    "efficiency_table",
)
st.caption(
    "'Extra ms per accuracy point': going from the previous model on the frontier to this "
    "one, how many milliseconds of latency each percentage point of accuracy costs."
)
