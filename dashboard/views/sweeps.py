"""A sweep's runs as a table and as parallel coordinates of settings against accuracy."""

import streamlit as st

from dashboard import charts, data, pages, tables, widgets
from dashboard.settings import artifacts_dir

st.title("Sweeps")
data.require_run()  # the usual guidance when the folder has no run yet
folder = str(artifacts_dir())
sweeps = data.sweeps(folder)
if not sweeps:
    st.info("No sweep in this artifacts folder yet. Run one, e.g.:")
    st.code("python -m pipeline sweep --set cnn_input_size=96,128 --set cnn_epochs=8,16", "bash")
    st.stop()
by_id = {s["sweep_id"]: s for s in sweeps}
chosen = st.selectbox(
    "Sweep", list(by_id), format_func=lambda i: tables.sweep_label(by_id[i]), key="sweep_pick"
)
sweep = by_id[chosen]
settings = list(sweep["grid"])
runs = data.sweep_runs(folder, sweep)
table = tables.sweep_table(sweep, runs)
if table.empty:
    st.warning("None of this sweep's runs is in the folder any more.")
    st.stop()
models = [c for c in table.columns if c not in settings and c != "run"]
widgets.table(table, {m: "{:.2%}" for m in models}, "sweep_table")
metric = st.selectbox("Accuracy of", models, key="sweep_metric")
st.plotly_chart(
    charts.sweep_coordinates(table, settings, metric), width="stretch", key="sweep_coords"
)
st.caption(f"Each line is a run: its settings, then {metric}'s validation accuracy.")

left, right = st.columns([3, 1])
pick = left.selectbox("Open a run of this sweep", table.run.tolist(), key="sweep_open_pick")
if right.button("Open its pages", key="sweep_open"):
    st.session_state[data.OPEN_RUN_KEY] = str(runs[pick].path)
    st.switch_page(pages.page("overview").file)
