"""Confusion matrices side by side, with per-class precision and recall; for more than two
classes, the most confused pairs and the photos of any cell."""

import pandas as pd
import streamlit as st

from dashboard import charts, classes, data, widgets
from dashboard.settings import label
from pipeline.evaluation import analysis
from pipeline.store.predictions import is_binary


def _apply_click(clicks: dict[str, tuple[int, int] | None], names: list[str]) -> None:
    """A newly clicked cell becomes the cell whose photos are listed; the choice stays with
    the class pickers until another cell is clicked."""
    for name, cell in clicks.items():
        if cell is not None and st.session_state.get(f"cm_clicked_{name}") != cell:
            st.session_state[f"cm_clicked_{name}"] = cell
            st.session_state["cell_true"], st.session_state["cell_predicted"] = (
                names[cell[0]],
                names[cell[1]],
            )
        elif cell is None:
            st.session_state.pop(f"cm_clicked_{name}", None)


st.title("Confusion matrices")
run = data.require_run()
names = run.class_names
two = is_binary(names)
mode = st.radio("Show", ["counts", "row-normalized"], horizontal=True, key="cm_mode")
matrices = data.available(run, data.confusion)
per_row = max(1, len(matrices)) if two or len(names) <= 5 else (2 if len(names) <= 20 else 1)
items = list(matrices.items())
clicks: dict[str, tuple[int, int] | None] = {}
for start in range(0, max(1, len(items)), per_row):
    columns = st.columns(per_row)
    for column, (name, cm) in zip(columns, items[start : start + per_row], strict=False):
        with column:
            figure = charts.confusion_heatmap(
                cm["matrix"], cm["class_names"], mode != "counts", title=label(name)
            )
            if two:
                st.plotly_chart(figure, width="stretch", key=f"cm_{name}")
            else:  # a click on a cell lists its photos below
                event = st.plotly_chart(
                    figure,
                    width="stretch",
                    key=f"cm_{name}",
                    on_select="rerun",
                    selection_mode="points",
                )
                clicks[name] = charts.clicked_cell(event.selection, names)
            table = pd.DataFrame(cm["per_class"]).T
            shown = st.expander("Per class", expanded=len(names) <= 10) if not two else st
            shown.dataframe(
                table.style.format(
                    {
                        "precision": "{:.3f}",
                        "recall": "{:.3f}",
                        "f1": "{:.3f}",
                        "support": "{:,.0f}",
                    }
                ),
                key=f"cm_table_{name}",
            )
if two:
    st.caption(
        "Rows are the true class, columns the prediction (threshold 0.5). Hover a cell "
        "for its count and its share of the true class."
    )
    st.stop()

st.caption(
    "Rows are the true class, columns the predicted one (the most probable class). Hover a "
    "cell for its count and its share of the true class, click it to list its photos below"
    + (
        f"; past {charts.CELL_TEXT_LIMIT} classes the cells carry no numbers."
        if len(names) > 20
        else "."
    )
)
st.subheader("Most confused pairs")
model_names = list(matrices)
scored = data.available(run, data.predictions, model_names)
pairs = (data.analysis_if_any(run) or {}).get("confused_pairs")
if pairs is None:  # analysed before the pairs were stored: the pipeline's own count
    wide = analysis.wide_predictions(scored, names)
    predicted = {n: wide[f"pred_{n}"].to_numpy(int) for n in scored}
    pairs = analysis.confused_pairs(wide["label"].to_numpy(int), predicted, names)
if not pairs:
    st.success("No model confuses any two classes on these photos.")
else:
    widgets.table(classes.pairs_table(pairs, model_names), {}, "confused_pairs")
    st.caption("Off-diagonal cells summed over the models, largest first (at most 20).")

st.subheader("Photos of a cell")
_apply_click(clicks, names)
left, right = st.columns(2)
first = pairs[0] if pairs else {"true": names[0], "predicted": names[0]}
for key, side in (("cell_true", "true"), ("cell_predicted", "predicted")):
    if st.session_state.get(key) not in names:  # first visit, or another run's classes
        st.session_state[key] = first[side]
true = left.selectbox("True class", names, key="cell_true")
predicted = right.selectbox("Predicted as", names, key="cell_predicted")
photos = classes.cell_photos(
    scored, names, true=names.index(true), predicted=names.index(predicted)
)
st.caption(f"{len(photos):,} photo answer(s) of true {true} predicted as {predicted}.")
widgets.table(photos, {"confidence": "{:.3f}"}, "cell_photos")
widgets.thumbnails(run, photos.drop_duplicates("path").head(10))
