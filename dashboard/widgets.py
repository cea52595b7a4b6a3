"""Small Streamlit pieces shared by several pages."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import data, explain
from dashboard.settings import label, negative_name, positive_name
from pipeline.store import artifacts

ANSWER = "each model's answer"  # the first evidence choice; the others are the two classes


def evidence_choices(classes: list[str]) -> tuple[str, str, str]:
    """The Grad-CAM evidence choices: each model's own answer, then the positive class and
    the negative one, by the run's class names."""
    return (ANSWER, positive_name(classes), negative_name(classes))


def table(frame: pd.DataFrame, formats: dict[str, str], key: str) -> None:
    """A full-width table without index, columns formatted by `formats`."""
    st.dataframe(frame.style.format(formats, na_rep="–"), hide_index=True, width="stretch", key=key)


def explanations(maps: explain.Maps, answers: dict[str, float], classes: list[str], key: str):
    """Grad-CAM overlays of every model, side by side, with a choice of which evidence.

    `answers`: each model's P(<positive class>)."""
    positive, negative = positive_name(classes), negative_name(classes)
    choice = st.radio(
        "Highlight the evidence for",
        evidence_choices(classes),
        horizontal=True,
        key=f"{key}_evidence",
        help=f"Grad-CAM on the last convolutional layer. For '{negative}' the gradient of the "
        f"negative {positive} score is used, since each model has one sigmoid output.",
    )
    names = [n for n in maps if n in answers]
    unexplained = [label(n) for n in answers if n not in maps]
    if unexplained:
        st.caption(
            "No Grad-CAM for " + ", ".join(unexplained) + ": no convolutional layer is "
            "visible inside it (a TensorFlow Hub base is one opaque layer)."
        )
    columns = st.columns(max(1, len(names)))
    for column, name in zip(columns, names, strict=False):
        says_positive = answers[name] >= 0.5
        if choice == ANSWER:
            target = "positive" if says_positive else "negative"
        else:
            target = "positive" if choice == positive else "negative"
        shown = positive if target == "positive" else negative
        size = maps[name]["image"].shape[0]
        confidence = max(answers[name], 1 - answers[name])
        column.image(
            explain.view(maps, name, target),
            caption=f"{label(name)}: says {classes[int(says_positive)]} ({confidence:.0%}); "
            f"evidence for {shown}, as seen at {size}px",
            width="stretch",
        )


def validation_photo_explanations(
    run: artifacts.Run, path: str, answers: dict[str, float], key: str
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
    explanations(maps, answers, run.class_names, key=key)
