"""Upload photos and see all four models answer side by side."""

import pandas as pd
import streamlit as st

from dashboard import data, explain, live, widgets
from dashboard.settings import MAX_UPLOAD_BYTES, label

st.title("Live compare")
run = data.require_run()
classes = run.class_names
models = data.load_models(str(run.path), tuple(run.model_names()))

uploads = st.file_uploader(
    f"Photos (any common format, up to {MAX_UPLOAD_BYTES // 2**20} MB each)",
    accept_multiple_files=True,
    key="upload",
)
samples = live.sample_photos(run)
picked = st.multiselect("…or try validation photos", [p for p, _ in samples], key="samples")

items = [(f.name, f.getvalue()) for f in uploads or []]
items += [(p, dict(samples)[p].read_bytes()) for p in picked]
if not items:
    st.info("Upload a photo or pick a sample to see what each model says.")
    st.stop()

for index, (title, payload) in enumerate(items):
    result = live.answer(title, payload, models)
    st.subheader(title)
    if result.error:
        st.error(f"Cannot use this file: {result.error}")
        continue
    for note in result.loaded.notes:
        st.caption(f"Note: {note}.")
    votes = [classes[int(v.p_positive >= 0.5)] for v in result.verdicts]
    majority = max(set(votes), key=votes.count)
    agree = votes.count(majority)
    st.markdown(
        f"**{agree} of {len(votes)} models say {majority}**"
        + (" — unanimous" if agree == len(votes) else " — they disagree")
    )
    cols = st.columns(len(result.seen) + 1)
    cols[0].image(result.loaded.image, caption="upright original", width="stretch")
    for col, (size, pixels) in zip(cols[1:], result.seen.items(), strict=True):
        col.image(pixels, caption=f"as the {size[0]}x{size[1]} models see it", width="stretch")
    table = pd.DataFrame(
        {
            "model": [label(v.name) for v in result.verdicts],
            f"P({classes[0]})": [1 - v.p_positive for v in result.verdicts],
            f"P({classes[1]})": [v.p_positive for v in result.verdicts],
            "verdict": votes,
            "latency (ms)": [v.latency_ms for v in result.verdicts],
        }
    )
    widgets.table(
        table,
        {f"P({classes[0]})": "{:.3f}", f"P({classes[1]})": "{:.3f}", "latency (ms)": "{:.1f}"},
        f"answer_{index}",
    )
    st.caption(f"All models answered in {result.total_ms:.0f} ms (decode, resize and predict).")
    if st.toggle("Show where each model looked (Grad-CAM)", key=f"explain_{index}"):
        maps = explain.live(models, result.seen)
        p_dog = {v.name: v.p_positive for v in result.verdicts}
        widgets.explanations(maps, p_dog, classes, f"live_{index}")
