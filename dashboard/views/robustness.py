"""How robust is each model? Accuracy under common corruptions, and what flips."""

from pathlib import Path

import pandas as pd
import streamlit as st

from dashboard import charts, data, widgets
from dashboard.settings import label
from pipeline.evaluation import robustness

st.title("How robust is each model?")
run = data.require_run()
result = data.robustness(run)
if result is None:
    st.info("This run has no robustness analysis yet. Make it (a few minutes, no retraining) with:")
    st.code(f"python -m pipeline analyze {run.path} --robustness", "bash")
    st.stop()

names = [n for n in result["models"] if n in run.model_names()]
n_photos = len(result["photos"])
st.caption(
    f"Every model scored on the same {n_photos} validation photos (a seeded subset, both "
    "classes in proportion), clean and under each corruption. A corruption is applied to the "
    "photo at its own size, then it goes through the models' usual resize; 'TensorFlow "
    "bilinear resize' instead replaces that resize by `tf.image.resize`'s default (no "
    "antialiasing). Intervals: 95% Wilson, for this subset."
)

rows = []
for name in names:
    for row in result["models"][name]["rows"]:
        spec = robustness.BY_NAME.get(row["corruption"])
        condition = "clean" if spec is None else spec.label
        if spec is not None and spec.unit:
            condition += f" ({row['level']:g} {spec.unit})"
        rows.append({"condition": condition, "model": label(name), "accuracy": row["accuracy"]})
table = pd.DataFrame(rows).pivot_table(
    index="condition", columns="model", values="accuracy", sort=False
)
widgets.table(table.reset_index(), {label(n): "{:.1%}" for n in names}, "robustness_table")

choices = {c["label"]: c["name"] for c in result["corruptions"]}
chosen = st.selectbox("Corruption", list(choices), key="robustness_corruption")
st.plotly_chart(
    charts.robustness_curves(result, choices[chosen]), width="stretch", key="robustness_plot"
)

st.subheader("Resize method")
gaps = []
for name in names:
    by = {(r["corruption"], r["severity"]): r for r in result["models"][name]["rows"]}
    clean, resized = by[("clean", 0)], by[("resize", 1)]
    gaps.append(
        {
            "model": label(name),
            "loader (Pillow bilinear, antialiased)": clean["accuracy"],
            "tf.image.resize default": resized["accuracy"],
            "gap (points)": (clean["accuracy"] - resized["accuracy"]) * 100,
            "answers that differ": resized["changed"],
        }
    )
widgets.table(
    pd.DataFrame(gaps),
    {
        "loader (Pillow bilinear, antialiased)": "{:.1%}",
        "tf.image.resize default": "{:.1%}",
        "gap (points)": "{:+.1f}",
    },
    "resize_gap_table",
)
every = data.resize_gap(run)
if every:
    rows = [
        {
            "model": label(name),
            "loader (Pillow bilinear, antialiased)": gap["pillow"],
            "tf.image.resize default": gap["tensorflow"],
            "gap (points)": gap["points"],
            "answers that differ": gap["changed"],
            "McNemar p": gap["p_value"],
        }
        for name, gap in every["models"].items()
    ]
    n_all = max(gap["photos"] for gap in every["models"].values())
    st.markdown(f"On **all {n_all:,} validation photos**:")
    widgets.table(
        pd.DataFrame(rows),
        {
            "loader (Pillow bilinear, antialiased)": "{:.2%}",
            "tf.image.resize default": "{:.2%}",
            "gap (points)": "{:+.2f}",
            "McNemar p": "{:.3g}",
        },
        "resize_gap_all_table",
    )
else:
    st.caption(
        "On the subset above. For every validation photo (about a minute per model): "
        f"`python -m pipeline analyze {run.path} --resize-gap`."
    )
st.caption(
    "A model that loses accuracy here will do worse for anyone who feeds it photos resized "
    "the common TensorFlow way than this dashboard reports: feed it through "
    "`pipeline.data.images.load_model_input`, as the pipeline and the Live page do."
)

st.subheader("Photos whose answer flips under the mildest corruption")
col1, col2 = st.columns(2)
model = col1.selectbox("Model", names, format_func=label, key="flip_model")
corruption = col2.selectbox("Corruption", list(choices), key="flip_corruption")
flips = result["models"][model]["flips"].get(choices[corruption], [])
if not flips:
    st.success(f"No photo changes its answer from {label(model)} under mild {corruption}.")
else:
    answers = result["answers"][model]
    frame = pd.DataFrame(
        {
            "photo": [result["photos"][i] for i in flips],
            "label": [run.class_names[result["labels"][i]] for i in flips],
            "P(dog) clean": [answers["clean:0"][i] for i in flips],
            f"P(dog) {corruption}": [answers[f"{choices[corruption]}:1"][i] for i in flips],
        }
    )
    st.write(f"{len(flips)} of {n_photos} photos change {label(model)}'s answer.")
    widgets.table(
        frame, {"P(dog) clean": "{:.3f}", f"P(dog) {corruption}": "{:.3f}"}, "flips_table"
    )
    root = Path(run.manifest["dataset"]["root"])
    shown = [p for p in frame.photo[:6] if (root / p).is_file()]
    if shown:
        from pipeline.data.images import load_rgb

        size = tuple(run.model_record(model)["input_size"])
        columns = st.columns(len(shown))
        for column, path in zip(columns, shown, strict=True):
            image = load_rgb(root / path).image
            i = result["photos"].index(path)
            seen = robustness.model_input(image, choices[corruption], 1, size, seed=i)
            column.image(seen, caption=f"{path} as the model saw it", width="stretch")
