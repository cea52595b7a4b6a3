"""Small Streamlit pieces shared by several pages."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from dashboard import charts, data, explain, tables
from dashboard import classes as nclass
from dashboard.settings import label, negative_name, p_positive, positive_name
from pipeline.data.images import ImageError, load_rgb
from pipeline.evaluation import analysis
from pipeline.store import artifacts
from pipeline.store.predictions import confidence_of, is_binary

ANSWER = "each model's answer"  # the first evidence choice; the others are the two classes
TRUE_CLASS = "the photo's true class"  # the other choice for N classes


def evidence_choices(classes: list[str]) -> tuple[str, str, str]:
    """The Grad-CAM evidence choices: each model's own answer, then the positive class and
    the negative one, by the run's class names."""
    return (ANSWER, positive_name(classes), negative_name(classes))


def table(frame: pd.DataFrame, formats: dict[str, str], key: str) -> None:
    """A full-width table without index, columns formatted by `formats`."""
    st.dataframe(frame.style.format(formats, na_rep="–"), hide_index=True, width="stretch", key=key)


def explanations(maps: explain.Maps, answers: dict, classes: list[str], key: str):
    """Grad-CAM overlays of every model, side by side, with a choice of which evidence.

    `answers`: each model's P(<positive class>) for two classes; for N classes each model's
    (predicted class index, its probability)."""
    if not is_binary(classes):
        class_explanations(maps, answers, classes, key=key)
        return
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


def _unexplained(maps: explain.Maps, answers: dict) -> None:
    missing = [label(n) for n in answers if n not in maps]
    if missing:
        st.caption(
            "No Grad-CAM for " + ", ".join(missing) + ": no convolutional layer is "
            "visible inside it (a TensorFlow Hub base is one opaque layer)."
        )


def class_explanations(
    maps: explain.Maps, answers: dict[str, tuple[int, float]], classes: list[str], key: str
) -> None:
    """N-class Grad-CAM overlays: each model's evidence for its own answer, or for the photo's
    true class where the maps have one."""
    names = [n for n in maps if n in answers]
    choice = ANSWER
    if any("true" in maps[n] for n in names):
        choice = st.radio(
            "Highlight the evidence for",
            (ANSWER, TRUE_CLASS),
            horizontal=True,
            key=f"{key}_evidence",
            help="Grad-CAM on the last convolutional layer, of the chosen class's logit.",
        )
    _unexplained(maps, answers)
    for column, name in zip(st.columns(max(1, len(names))), names, strict=False):
        predicted, confidence = answers[name]
        target = "true" if choice == TRUE_CLASS and "true" in maps[name] else "predicted"
        shown = classes[int(maps[name]["classes"][0 if target == "predicted" else 1])]
        column.image(
            explain.view(maps, name, target),
            caption=f"{label(name)}: says {classes[predicted]} ({confidence:.0%}); evidence "
            f"for {shown}, as seen at {maps[name]['image'].shape[0]}px",
            width="stretch",
        )


def validation_photo_explanations(run: artifacts.Run, path: str, answers: dict, key: str) -> None:
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


def class_overview(run: artifacts.Run) -> None:
    """Photos per class and each model's accuracy on each class (N-class runs)."""
    names = run.class_names
    st.subheader(f"The {len(names)} classes")
    st.caption(
        "With more than two classes, precision, recall, F1 and ROC AUC above are macro "
        "averages: each class counts the same, whatever its number of photos."
    )
    left, right = st.columns([2, 3])
    counts = nclass.class_counts(run.manifest["dataset"])
    left.dataframe(counts, hide_index=True, width="stretch", key="class_counts")
    per_model = per_class_accuracy(run)
    accuracy = nclass.per_class_table(per_model, names)
    right.dataframe(
        accuracy.style.format(dict.fromkeys(accuracy.columns[1:], "{:.1%}"), na_rep="–"),
        hide_index=True,
        width="stretch",
        key="class_accuracy",
    )
    right.caption("Accuracy on each class: the share of its validation photos predicted as it.")


def per_class_accuracy(run: artifacts.Run) -> dict[str, dict]:
    """model -> class -> accuracy on it: the analysis's, else computed from predictions."""
    stored = (data.analysis_if_any(run) or {}).get("per_model", {})
    result = {}
    for name in run.model_names():
        found = stored.get(name, {}).get("per_class_accuracy")
        if found is None:
            frame = data.available(run, data.predictions, [name]).get(name)
            found = (
                analysis.per_class_accuracy(frame.label, frame.predicted, run.class_names)
                if frame is not None
                else {}
            )
        result[name] = found
    return result


def thumbnails(run: artifacts.Run, frame: pd.DataFrame, columns: int = 5) -> None:
    """The stored thumbnails of the frame's photos (`path` column), those the run has."""
    found = [(p, run.thumb_of(p)) for p in frame.path]
    found = [(p, t) for p, t in found if t is not None]
    for start in range(0, len(found), columns):
        row = found[start : start + columns]
        for column, (path, thumb) in zip(st.columns(columns), row, strict=False):
            column.image(str(thumb), caption=path, width="stretch")


def class_thresholds(run: artifacts.Run, result: dict) -> None:
    """The thresholds page of an N-class run: abstaining below a confidence, and each class's
    one-vs-rest ROC and precision-recall curves."""
    classes, per_model = run.class_names, result["per_model"]
    predictions = data.available(run, data.predictions, list(per_model))
    st.subheader("Answer only when sure")
    curves = {
        n: per_model[n].get("selective") or _selective(predictions[n], classes) for n in predictions
    }
    st.plotly_chart(charts.selective_accuracy(curves), width="stretch", key="selective")
    st.caption(
        "Each model answers only the photos whose top-class probability is at least a "
        "confidence and abstains on the rest: left, it answers every photo; moving right, "
        "it keeps fewer photos, usually getting more of them right."
    )
    threshold = st.slider("Abstain below a confidence of", 0.0, 1.0, 0.5, 0.01, key="abstain")
    rows = [
        {"model": label(n), **nclass.abstaining(f, classes, threshold)}
        for n, f in predictions.items()
    ]
    formats = {"answered": "{:.1%}", "accuracy on answered": "{:.2%}", "accuracy on all": "{:.2%}"}
    table(pd.DataFrame(rows), formats, "abstain_table")
    class_ranking(per_model, classes)


def _selective(frame: pd.DataFrame, classes: list[str]) -> dict[str, list[float]]:
    """analysis.json's `selective` of one model, for runs analysed without it."""
    correct = frame.predicted.to_numpy(int) == frame.label.to_numpy(int)
    return analysis.selective_accuracy(correct, confidence_of(frame, classes))


def class_ranking(per_model: dict, classes: list[str]) -> None:
    """One class against the rest: ROC and precision-recall curves of every model."""
    st.subheader("One class against the rest")
    chosen = st.selectbox("Class", classes, key="ranking_class")
    curves = {
        n: m["curves_per_class"][chosen]
        for n, m in per_model.items()
        if chosen in (m.get("curves_per_class") or {})
    }
    if not curves:
        st.info("This run's analysis has no per-class curves; refresh it with `analyze`.")
        return
    left, right = st.columns(2)
    for column, kind, title in ((left, "roc", "ROC"), (right, "pr", "Precision–recall")):
        column.subheader(title)
        column.plotly_chart(
            charts.ranking_curves(curves, kind, chosen), width="stretch", key=f"class_{kind}"
        )
    st.caption(
        f"{chosen} is the positive class, every other class the negative one; the score is "
        f"each model's P({chosen})."
    )


def class_changes(run_a: artifacts.Run, run_b: artifacts.Run, model: str) -> None:
    """The photos run B fixed or broke for `model`, in an N-class run: each run's answer."""
    classes = run_b.class_names
    changed = nclass.changes_table(
        data.fixed_and_broken(str(run_a.path), str(run_b.path), model), classes
    )
    fixed, broke = (changed.change == "fixed").sum(), (changed.change == "broke").sum()
    st.subheader(f"Photos B fixed ({fixed}) and broke ({broke})")
    for change, run in (("fixed", run_a), ("broke", run_b)):
        shown = changed[changed.change == change].head(4)
        if shown.empty:
            continue
        st.markdown(f"**{change}**: wrong in {'A' if change == 'fixed' else 'B'}")
        for column, (_, row) in zip(st.columns(4), shown.iterrows(), strict=False):
            thumb = run.thumb_of(row.path)  # the run that got it wrong stored its thumbnail
            caption = f"{row.path} ({row.label}): A says {row['A says']}, B {row['B says']}"
            if thumb is not None:
                column.image(str(thumb), caption=caption, width="stretch")
            else:
                column.caption(caption)
    formats = {"A: P(true class)": "{:.3f}", "B: P(true class)": "{:.3f}"}
    table(changed, formats, "compare_changed")


def binary_changes(run_a: artifacts.Run, run_b: artifacts.Run, model: str) -> None:
    """The photos run B fixed or broke for `model`, in a two-class run: P(<positive>) in each."""
    classes = run_b.class_names
    changed = data.fixed_and_broken(str(run_a.path), str(run_b.path), model)
    st.subheader(
        f"Photos B fixed ({(changed.change == 'fixed').sum()}) and broke "
        f"({(changed.change == 'broke').sum()})"
    )
    for change, run in (("fixed", run_a), ("broke", run_b)):
        shown = changed[changed.change == change].head(8)
        if shown.empty:
            continue
        st.markdown(f"**{change}**: wrong in {'A' if change == 'fixed' else 'B'}")
        for column, (_, row) in zip(st.columns(4), shown.head(4).iterrows(), strict=False):
            thumb = run.thumb_of(row.path)  # the run that got it wrong stored its thumbnail
            caption = (
                f"{row.path} ({classes[int(row.label)]}): {p_positive(classes)} "
                f"A {row.p_dog_a:.2f} → B {row.p_dog_b:.2f}"
            )
            if thumb is not None:
                column.image(str(thumb), caption=caption, width="stretch")
            else:
                column.caption(caption)
    shown = tables.changed_photos(changed, classes)
    table(shown, dict.fromkeys(shown.columns[-2:], "{:.3f}"), "compare_changed")


def photo(column, run: artifacts.Run, path: str, *, caption: str) -> None:
    """A photo of the run from its data folder (any photo, not only the thumbnailed ones)."""
    root = Path(run.manifest["dataset"]["root"])
    try:
        column.image(load_rgb(root / path).image, caption=caption, width="stretch")
    except (ImageError, OSError):
        column.caption(f"{caption} (not at {root})")


LABEL_ISSUES_SHOWN = 16
# Below this out-of-fold accuracy the head is wrong on many photos for want of skill, and
# confident learning flags those hard photos as much as wrong labels.
LABEL_HEAD_TRUSTED = 0.90


def label_head_caution(summary: dict) -> str | None:
    """A warning when the out-of-fold head is too weak for its flags to mean wrong labels."""
    accuracy = summary["out_of_fold_accuracy"]
    if accuracy >= LABEL_HEAD_TRUSTED:
        return None
    return (
        f"The head behind this list is right on only {accuracy:.2%} of the photos out of fold "
        f"(below {LABEL_HEAD_TRUSTED:.0%}), so many of the {summary['count']:,} flags are "
        "photos it cannot classify rather than wrong labels. Read the top of the list, not "
        "its length, and look before you exclude."
    )


def label_issues(run: artifacts.Run, issues: pd.DataFrame | None, summary: dict | None) -> None:
    """The likely label errors among every photo, training photos included."""
    if issues is None or summary is None:
        st.info(
            "This run has no search of every photo for label errors. It needs the pooled "
            "features of a MobileNetV2 trained on cached features: train with `--models "
            f"mobilenetv2_frozen` (enough on its own), or `python -m pipeline analyze {run.path}`."
        )
        return
    st.markdown(
        f"Every one of the {summary['photos']:,} photos, **training photos included**, scored "
        "by a linear head on its MobileNetV2 features that never saw its label "
        f"({summary['folds']} folds; {summary['out_of_fold_accuracy']:.2%} right out of "
        "fold). Confident learning "
        "(cleanlab) lists the photos whose label those scores contradict, the least likely "
        "label first. A label error in training teaches every model something wrong."
    )
    if issues.empty:
        st.success("No photo's label is contradicted by the out-of-fold scores.")
        return
    caution = label_head_caution(summary)
    if caution:
        st.warning(caution)
    st.download_button(
        "Download the list (CSV, an exclusion file)",
        issues.to_csv(index=False).encode(),
        file_name=f"label-issues-{run.run_id}.csv",
        mime="text/csv",
        key="label_issues_csv",
    )
    sides = {"every photo": None, "training only": "train", "validation only": "val"}
    side = st.radio("Show", list(sides), horizontal=True, key="label_issues_side")
    shown = issues if sides[side] is None else issues[issues.split == sides[side]]
    names = run.class_names
    shown = shown.assign(
        label_class=[names[int(i)] for i in shown.label],
        suggested_class=[names[int(i)] for i in shown.suggested],
    )
    top = shown.head(LABEL_ISSUES_SHOWN)
    for start in range(0, len(top), 4):
        for column, (_, row) in zip(
            st.columns(4), top.iloc[start : start + 4].iterrows(), strict=False
        ):
            photo(
                column,
                run,
                row.path,
                caption=f"#{row['rank']} {row.split}: labelled {row.label_class}, "
                f"looks like {row.suggested_class} ({row.p_suggested:.0%})",
            )
    st.dataframe(shown, hide_index=True, width="stretch", key="label_issues_table")
