"""Upload photos and see all four models answer side by side."""

from pathlib import Path

import pandas as pd
import streamlit as st

from dashboard import charts, data, live, widgets
from dashboard import classes as nclass
from dashboard.settings import (
    MAX_BATCH_FILES,
    MAX_UPLOAD_BYTES,
    label,
    megabytes,
    negative_name,
    p_of,
    p_positive,
)
from pipeline.data.images import EXTENSIONS
from pipeline.store import artifacts
from pipeline.store.predictions import is_binary

st.title("Live compare")
run = data.require_run()
classes = run.class_names
names = data.loadable_models(run)
if not names:
    st.error("No model of this run has its model file, so none can answer. Train it again.")
    st.stop()

uploads = st.file_uploader(
    f"Photos (JPEG, PNG, GIF, WebP, BMP, TIFF or AVIF; up to {megabytes(MAX_UPLOAD_BYTES)} "
    f"each, {MAX_BATCH_FILES} at a time)",
    type=list(EXTENSIONS),
    accept_multiple_files=True,
    key="upload",
)
split_mtime = (run.path / artifacts.SPLIT).stat().st_mtime
samples = dict(data.sample_photos(str(run.path), split_mtime))
picked = st.multiselect("…or try validation photos", list(samples), key="samples")

items = [(f.name, f.getvalue()) for f in uploads or []]
items += [(p, Path(samples[p]).read_bytes()) for p in picked]
if not items:
    st.info("Upload a photo or pick a sample to see what each model says.")
    st.stop()
items, refusals = live.within_limits(items)
for message in refusals:
    st.warning(message)


@st.fragment
def show_answer(index: int, title: str, payload: bytes) -> None:
    """One photo's answers; its Grad-CAM toggle reruns only this fragment."""
    digest = live.digest(payload)
    result = data.answer(str(run.path), names, digest, _payload=payload)
    st.subheader(title)
    if result.error:
        st.error(f"Cannot use this file: {result.error}")
        return
    for note in result.notes:
        st.caption(f"Note: {note}.")
    st.markdown(live.vote(result.verdicts, classes))
    cols = st.columns(len(result.seen) + 1)
    cols[0].image(result.preview, caption="upright original", width="stretch")
    for col, (size, png) in zip(cols[1:], result.seen_png.items(), strict=True):
        col.image(png, caption=f"as the {size[0]}x{size[1]} models see it", width="stretch")
    if not is_binary(classes):
        class_answer(index, result, digest)
        return
    table = pd.DataFrame(
        {
            "model": [label(v.name) for v in result.verdicts],
            p_of(negative_name(classes)): [f"{1 - v.p_positive:.3f}" for v in result.verdicts],
            p_positive(classes): [f"{v.p_positive:.3f}" for v in result.verdicts],
            "verdict": [classes[int(v.p_positive >= 0.5)] for v in result.verdicts],
            "latency (ms)": [f"{v.latency_ms:.1f}" for v in result.verdicts],
        }
    ).set_index("model")
    answers = {v.name: v.p_positive for v in result.verdicts}
    _table_and_gradcam(index, result, table=table, digest=digest, answers=answers)


def _table_and_gradcam(
    index: int, result: live.Answer, *, table: pd.DataFrame, digest: str, answers: dict
) -> None:
    """The answers' table, the time taken, and each model's Grad-CAM on request."""
    # A static table: a browser draws it far more cheaply than an interactive data grid,
    # which matters when many sessions render answers at once.
    st.table(table)
    st.caption(f"All models answered in {result.total_ms:.0f} ms (decode, resize and predict).")
    if st.toggle("Show where each model looked (Grad-CAM)", key=f"explain_{index}"):
        maps = data.live_gradcam(str(run.path), names, digest, _seen=result.seen)
        if not is_binary(classes):
            st.caption("Grad-CAM of each model's top class, overlaid on its input pixels.")
        widgets.explanations(maps, answers, classes, key=f"live_{index}")


def class_answer(index: int, result: live.Answer, digest: str) -> None:
    """An N-class answer: each model's top classes as bars, its answer, Grad-CAM on request."""
    k = min(nclass.TOP_K, len(classes))
    top = {v.name: nclass.top_k(v.class_probabilities(), classes, k) for v in result.verdicts}
    st.plotly_chart(charts.top_k_bars(top), width="stretch", key=f"top_k_{index}")
    st.caption(f"Each model's {k} most probable classes and their probabilities.")
    table = pd.DataFrame(
        {
            "model": [label(v.name) for v in result.verdicts],
            "verdict": [classes[v.predicted()] for v in result.verdicts],
            "P(verdict)": [f"{v.confidence():.3f}" for v in result.verdicts],
            "latency (ms)": [f"{v.latency_ms:.1f}" for v in result.verdicts],
        }
    ).set_index("model")
    answers = {v.name: (v.predicted(), v.confidence()) for v in result.verdicts}
    _table_and_gradcam(index, result, table=table, digest=digest, answers=answers)


for position, (title, payload) in enumerate(items):
    show_answer(position, title, payload)
