"""Small Streamlit pieces shared by several pages."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import data, explain
from dashboard.settings import label
from pipeline.store import artifacts

EVIDENCE_CHOICES = ("each model's answer", "dog", "cat")


def table(frame: pd.DataFrame, formats: dict[str, str], key: str) -> None:
    """A full-width table without index, columns formatted by `formats`."""
    st.dataframe(frame.style.format(formats, na_rep="–"), hide_index=True, width="stretch", key=key)


def explanations(maps: explain.Maps, p_dog: dict[str, float], classes: list[str], key: str):
    """Grad-CAM overlays of every model, side by side, with a choice of which evidence."""
    choice = st.radio(
        "Highlight the evidence for",
        EVIDENCE_CHOICES,
        horizontal=True,
        key=f"{key}_evidence",
        help="Grad-CAM on the last convolutional layer. For 'cat' the gradient of the negative "
        "dog score is used, since each model has one sigmoid output.",
    )
    names = [n for n in maps if n in p_dog]
    unexplained = [label(n) for n in p_dog if n not in maps]
    if unexplained:
        st.caption(
            "No Grad-CAM for " + ", ".join(unexplained) + ": no convolutional layer is "
            "visible inside it (a TensorFlow Hub base is one opaque layer)."
        )
    columns = st.columns(max(1, len(names)))
    for column, name in zip(columns, names, strict=False):
        says_dog = p_dog[name] >= 0.5
        if choice == "each model's answer":
            target = "positive" if says_dog else "negative"
        else:
            target = "positive" if choice == "dog" else "negative"
        shown = classes[1] if target == "positive" else classes[0]
        size = maps[name]["image"].shape[0]
        confidence = max(p_dog[name], 1 - p_dog[name])
        column.image(
            explain.view(maps, name, target),
            caption=f"{label(name)}: says {classes[int(says_dog)]} ({confidence:.0%}); "
            f"evidence for {shown}, as seen at {size}px",
            width="stretch",
        )


def validation_photo_explanations(
    run: artifacts.Run, path: str, p_dog: dict[str, float], key: str
) -> None:
    """Grad-CAM of every model for one validation photo: stored ones at once, others on request
    (computing them loads the four models, which takes seconds the first time)."""
    maps = explain.stored(run, path)
    source = "stored by the pipeline"
    if maps is None:
        if not st.toggle("Compute where each model looked (Grad-CAM)", key=f"{key}_compute"):
            return
        names = data.loadable_models(run)
        maps, source = explain.from_photo(run, path, lambda: data.load_models(str(run.path), names))
        if maps is None:
            st.info(f"No Grad-CAM maps: {source}.")
            return
    st.caption(f"Grad-CAM maps {source}, overlaid on each model's input pixels.")
    explanations(maps, p_dog, run.class_names, key=key)
