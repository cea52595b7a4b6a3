"""Two runs side by side: is B better than A, on which photos, and what changed between them."""

import pandas as pd
import streamlit as st

from dashboard import charts, data, tables, widgets
from dashboard.settings import artifacts_dir, label
from pipeline.store.predictions import is_binary


def compare_groups(groups: list[dict]) -> None:
    """Two repeat groups: does B's setting beat A's, model by model, beyond seed noise?"""

    def named(g: dict) -> str:
        models = ", ".join(label(m) for m in g["summary"]["models"])
        return f"{g['group_id']}: {len(g['summary']['runs'])} repeats of {models}"

    by_id = {g["group_id"]: g for g in groups}
    left, right = st.columns(2)
    a = left.selectbox("Group A", list(by_id), index=1, format_func=lambda i: named(by_id[i]))
    b = right.selectbox("Group B", list(by_id), index=0, format_func=lambda i: named(by_id[i]))
    if a == b:
        st.info("Pick two different groups.")
        return
    result = data.group_change(str(artifacts_dir()), by_id[a], by_id[b])
    for change in result["models"]:
        st.markdown(
            ("**Real.** " if change["beyond_noise"] else "**Not shown.** ") + change["verdict"]
        )
    table = pd.DataFrame(
        [
            {
                "model": c["model"],
                "A mean": c["mean_a"],
                "B mean": c["mean_b"],
                "B − A (pts)": 100 * c["difference"],
                "95% low (pts)": None if c["low"] is None else 100 * c["low"],
                "95% high (pts)": None if c["high"] is None else 100 * c["high"],
                "repeats A / B": f"{c['repeats_a']} / {c['repeats_b']}",
                "Welch p": c["welch_p"],
                "beyond seed noise": c["beyond_noise"],
            }
            for c in result["models"]
        ]
    )
    points = "{:+.2f}"
    formats = {"A mean": "{:.2%}", "B mean": "{:.2%}", "B − A (pts)": points}
    formats |= {"95% low (pts)": points, "95% high (pts)": points, "Welch p": "{:.2g}"}
    widgets.table(table, formats, "group_change")
    st.caption(
        f"On the {result['photos']:,} validation photos both groups scored. The interval "
        "counts each group's seed spread and the photos (pipeline/evaluation/repeats.py); "
        "Welch's t test compares the groups' per-repeat accuracies."
    )
    st.subheader("What differs between the groups")
    st.dataframe(
        pd.DataFrame(
            [(k, str(va), str(vb)) for k, (va, vb) in result["config"].items()],
            columns=["setting", "A", "B"],
        ),
        hide_index=True,
        key="group_config",
    )


st.title("Compare runs")
data.require_run()  # the usual guidance when the folder has no run yet
groups = data.repeat_groups(str(artifacts_dir()))
if len(groups) >= 2:
    what = st.radio("Compare", ["two runs", "two repeat groups"], horizontal=True, key="cmp_of")
    if what == "two repeat groups":
        compare_groups(groups)
        st.stop()
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
