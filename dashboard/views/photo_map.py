"""Every photo of the run on one map, by its MobileNetV2 features: clusters, strays, and where
each model goes wrong; a box or lasso selection lists the photos."""

import streamlit as st

from dashboard import charts, data, widgets
from dashboard import photo_map as mapping
from dashboard.settings import label

SHOWN = 24
SIDES = {"train": "training photos", "val": "validation photos"}

st.title("Map of the photos")
run = data.require_run()
points = data.photo_map(run)
if points is None:
    st.info(
        "This run has no map. It is made from the pooled features of the MobileNetV2 the run "
        "trained on cached features: train with `--models mobilenetv2_frozen` (enough on its "
        f"own), or make it for this run with `python -m pipeline analyze {run.path}`."
    )
    st.stop()

scored = data.available(run, data.predictions)
names = list(scored)
table = mapping.map_table(points, scored, run.class_names)
st.markdown(
    f"All {len(table):,} photos, placed by their MobileNetV2 features (PCA to 50 dimensions, "
    "then t-SNE): photos the network sees as alike sit together. A photo far from its class, "
    "or a class split in islands, is where to look first. Circles are training photos, "
    "diamonds validation photos; hover for a photo's name, label and every model's answer."
)
left, middle, right = st.columns(3)
colour_by = left.radio("Colour by", mapping.COLOUR_BY, key="map_colour")
model = None
if colour_by == "a model's answer":
    model = middle.selectbox("Model", names, format_func=label, key="map_model")
sides = right.multiselect(
    "Photos", list(SIDES), default=list(SIDES), format_func=SIDES.get, key="map_sides"
)
shown = table[table.split.isin(sides)].reset_index(drop=True)
if shown.empty:
    st.info("Pick training photos, validation photos or both.")
    st.stop()
figure = charts.photo_map(
    shown, mapping.hover_lines(shown, names), colour_by=colour_by, model=model
)
event = st.plotly_chart(
    figure, width="stretch", key="photo_map", on_select="rerun", selection_mode=("box", "lasso")
)
picked = mapping.selected_paths(event.selection, shown)
if not picked:
    st.caption("Draw a box or a lasso around photos to list them here, with thumbnails.")
    st.stop()

chosen = shown[shown.path.isin(picked)]
st.subheader(f"{len(chosen):,} photo(s) selected")
st.download_button(
    "Download the selection (CSV, an exclusion file)",
    chosen.drop(columns=["x", "y"]).to_csv(index=False).encode(),
    file_name=f"map-selection-{run.run_id}.csv",
    mime="text/csv",
    key="map_selection_csv",
)
counts = chosen["class"].value_counts()
st.caption(
    "By label: "
    + ", ".join(f"{name} {n:,}" for name, n in counts.items())
    + f"; {int((chosen.split == 'train').sum()):,} training photo(s)."
)
for start in range(0, min(len(chosen), SHOWN), 6):
    row = chosen.iloc[start : min(start + 6, SHOWN)]
    for column, (_, photo) in zip(st.columns(6), row.iterrows(), strict=False):
        widgets.photo(column, run, photo.path, caption=f"{photo.path} ({photo['class']})")
if len(chosen) > SHOWN:
    st.caption(f"The first {SHOWN} of {len(chosen):,} shown; the CSV holds them all.")
