"""Two runs side by side: is B better than A, on which photos, and what changed between them."""

import pandas as pd
import streamlit as st

from dashboard import charts, data, tables, widgets
from dashboard.settings import artifacts_dir, label
from pipeline.store.predictions import is_binary

st.title("Compare runs")
data.require_run()  # the usual guidance when the folder has no run yet
runs = data.run_paths(str(artifacts_dir()))
complete = [(p, name) for p, name in runs if data.run_at(p).complete]
if len(complete) < 2:
    st.info("Comparing needs two complete runs in this artifacts folder. Make another, e.g.:")
    st.code("python -m pipeline train --profile quick --cnn-input-size 128", "bash")
    st.stop()
labels = dict(complete)
paths = [p for p, _ in complete]
left, right = st.columns(2)
path_a = left.selectbox("Run A", paths, index=1, format_func=labels.get, key="compare_a")
path_b = right.selectbox("Run B", paths, index=0, format_func=labels.get, key="compare_b")
if path_a == path_b:
    st.info("Pick two different runs.")
    st.stop()
run_a, run_b = data.run_at(path_a), data.run_at(path_b)
result = data.comparison(path_a, path_b)
if not result["models"]:
    st.warning("These runs have no model in common.")
    st.stop()

formats = {
    "A": "{:.2%}",
    "B": "{:.2%}",
    "B − A (pts)": "{:+.2f}",
    "p": "{:.3g}",
    "A, whole set": "{:.2%}",
    "B, whole set": "{:.2%}",
}
widgets.table(tables.comparison_table(result), formats, "compare_table")
st.caption(
    "A, B and B − A are on the validation photos both runs scored (same path and content), "
    "the photos the paired McNemar test is on; each run's accuracy on its whole validation "
    "set is in the last columns, apart, since two sets of photos differ by more than the "
    "models. Runs that share no photo get the whole sets and an unpaired two-proportion "
    "test, and the table says so."
)
for r in result["models"]:
    if "warning" in r:
        st.warning(f"{label(r['model'])}: {r['warning']}")
if run_a.class_names != run_b.class_names:
    st.warning(
        f"These runs are of different classes (A: {len(run_a.class_names)}, "
        f"{', '.join(run_a.class_names[:10])}{', …' if len(run_a.class_names) > 10 else ''}; "
        f"B: {len(run_b.class_names)}, {', '.join(run_b.class_names[:10])}"
        f"{', …' if len(run_b.class_names) > 10 else ''}), so only the overall numbers above "
        "compare; their confusion matrices and photos do not."
    )
    st.stop()

names = [r["model"] for r in result["models"]]
model = st.selectbox("Model", names, format_func=label, key="compare_model")
metric = st.radio("Metric", ["accuracy", "loss"], horizontal=True, key="compare_metric")
histories = {
    f"A {run_a.run_id}": data.history(path_a, model),
    f"B {run_b.run_id}": data.history(path_b, model),
}
st.plotly_chart(charts.run_curves(histories, metric), width="stretch", key="compare_curves")
columns = st.columns(2)
for column, (side, path) in zip(columns, (("A", path_a), ("B", path_b)), strict=True):
    cm = data.confusion(path, model)
    column.plotly_chart(
        charts.confusion_heatmap(
            cm["matrix"], cm["class_names"], False, title=f"{side}: {label(model)}"
        ),
        width="stretch",
        key=f"compare_cm_{side}",
    )

classes = run_b.class_names
if is_binary(classes):
    widgets.binary_changes(run_a, run_b, model)
else:
    widgets.class_changes(run_a, run_b, model)

st.subheader("What differs between the runs")
st.dataframe(tables.config_table(result), hide_index=True, width="stretch", key="compare_config")
data_diff = result["data"]
st.markdown(f"**Photos:** {data_diff['summary']}")
for key in ("removed", "added", "edited", "relabelled", "newly_excluded", "no_longer_excluded"):
    if data_diff[key]:
        with st.expander(f"{key.replace('_', ' ')} ({len(data_diff[key])})"):
            st.dataframe(pd.DataFrame({"path": data_diff[key]}), hide_index=True, key=f"d_{key}")
