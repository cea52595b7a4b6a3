"""The dashboard speaks of the run's own classes and data folder, not of cats and dogs.

The AppTest half opens every page on the real run rewritten as a run of `flowers/roses` vs
`flowers/tulips` (fixture `flower_artifacts`) and reads everything the page shows.
"""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
import streamlit as st
from google.protobuf.json_format import MessageToDict

from dashboard import live, settings, tables, widgets
from tests.dashboard.conftest import (
    FLOWER_CLASSES,
    FLOWER_FOLDER,
    OLDER_FLOWER_RUN,
    PAGE_KEYS,
    open_app,
)

NEGATIVE, POSITIVE = FLOWER_CLASSES
P_POSITIVE = f"P({POSITIVE})"
# 'cat', 'cats', 'dog', 'dogs' as words: not inside another word, but also caught next to
# an underscore or digit ('p_dog', 'Dog/1.jpg').
PET_WORD = re.compile(r"(?<![a-z])(cats?|dogs?)(?![a-z])", re.IGNORECASE)
# Pages that show the positive class's probability by name (after the page's actions below).
SHOWS_P_POSITIVE = {"mistakes", "live", "thresholds", "calibration", "suspects", "compare"}


def _manifest(root: str, classes: list[str], models: int) -> dict:
    names = [f"m{i}" for i in range(models)]
    return {
        "dataset": {"root": root, "class_names": classes, "positive_class": classes[-1]},
        "planned_models": names,
        "models": [{"name": n} for n in names],
    }


def test_the_page_title_names_the_data_folder_and_its_classes():
    pets = _manifest("/data/PetImages", ["Cat", "Dog"], 4)
    assert settings.data_title(pets) == "PetImages: Cat vs Dog, 4 models compared"
    flowers = _manifest("/data/flowers/", ["roses", "tulips"], 1)
    assert settings.data_title(flowers) == "flowers: roses vs tulips, 1 model compared"
    flowers["planned_models"], flowers["models"] = [], []
    assert settings.data_title(flowers) == "flowers: roses vs tulips, classifiers compared"
    assert settings.data_title(None) == settings.NEUTRAL_TITLE == "Image classifiers compared"
    assert settings.data_title({"dataset": {"root": "/x"}}) == settings.NEUTRAL_TITLE
    assert not PET_WORD.search(settings.NEUTRAL_TITLE + settings.PAGE_ICON)


def test_class_wording_helpers_name_the_runs_classes():
    classes = list(FLOWER_CLASSES)
    assert (settings.negative_name(classes), settings.positive_name(classes)) == FLOWER_CLASSES
    assert settings.p_of(NEGATIVE) == f"P({NEGATIVE})"
    assert settings.p_positive(classes) == P_POSITIVE
    assert settings.data_folder({"dataset": {"root": "/data/flowers"}}) == "flowers"
    assert settings.data_folder({"dataset": {}}) == ""
    assert widgets.evidence_choices(classes) == (widgets.ANSWER, POSITIVE, NEGATIVE)
    verdicts = [live.Verdict(f"m{i}", p, 1.0) for i, p in enumerate((0.9, 0.2, 0.1))]
    assert live.vote(verdicts, classes) == f"**2 of 3 models say {NEGATIVE}** — they disagree"


def test_flips_and_changed_photos_columns_use_the_positive_class():
    result = {
        "photos": ["tulips/1.jpg"],
        "labels": [1],
        "answers": {"cnn3": {"clean:0": [0.7], "blur:1": [0.4]}},
        "models": {"cnn3": {"flips": {"blur": [0]}}},
    }
    frame = tables.flips(result, list(FLOWER_CLASSES), "cnn3", "blur", "Gaussian blur")
    assert list(frame.columns) == [
        "photo",
        "label",
        f"{P_POSITIVE} clean",
        f"{P_POSITIVE} Gaussian blur",
    ]
    assert frame.label.tolist() == [POSITIVE]
    changed = pd.DataFrame(
        {
            "path": ["roses/2.jpg"],
            "label": [0],
            "change": ["fixed"],
            "p_dog_a": [0.6],
            "p_dog_b": [0.3],
        }
    )
    shown = tables.changed_photos(changed, list(FLOWER_CLASSES))
    assert list(shown.columns) == ["path", "label", "change", f"{P_POSITIVE} A", f"{P_POSITIVE} B"]
    assert shown.label.tolist() == [NEGATIVE]


def _strings(value):
    """Every string inside a JSON-like value, keys included; plotly's packed arrays left out."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key != "bdata":
                yield str(key)
                yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, str):
        yield value


def _frame_texts(frame: pd.DataFrame) -> list[str]:
    texts = [str(c) for c in frame.columns] + [str(i) for i in frame.index]
    return texts + [str(v) for v in frame.astype(str).to_numpy().ravel()]


def shown_texts(at) -> list[str]:
    """Everything the app shows as text: every element's and container's proto (markdown,
    captions, headings, alerts, labels, help, options, metric labels, image captions, JSON),
    tables' and dataframes' column names and cells, and plotly figures' JSON."""
    texts = []
    for node in [*at.main, *at.sidebar]:
        kind, proto = getattr(node, "type", ""), getattr(node, "proto", None)
        if kind in ("dataframe", "table", "arrow_data_frame"):
            texts += _frame_texts(node.value)
        elif kind == "plotly_chart":
            texts += _strings(json.loads(node.proto.spec))
        elif proto is not None:
            texts += _strings(MessageToDict(proto))
    return texts


def _has(at, kind: str, key: str) -> bool:
    return any(w.key == key for w in getattr(at, kind))


def _explain(at, key: str, pick_key: str, stored: list[str], evidence: str) -> None:
    """Pick a photo with stored Grad-CAM maps (else compute them) and show `evidence`."""
    pick = at.selectbox(key=pick_key)
    pick.set_value(next((p for p in pick.options if p in stored), pick.value)).run()
    if _has(at, "toggle", f"{key}_compute"):
        at.toggle(key=f"{key}_compute").set_value(True).run()
    at.radio(key=f"{key}_evidence").set_value(evidence).run()


def _act(at, page: str, run) -> None:
    """Bring out what a page shows only on request: answers, Grad-CAM evidence, flips."""
    from pipeline.evaluation.analysis import photos_to_explain

    if page == "mistakes":
        _explain(at, "pick", "mis_pick", photos_to_explain(run), evidence=NEGATIVE)
    elif page == "live":
        at.multiselect(key="samples").set_value(at.multiselect(key="samples").options[:1]).run()
        at.toggle(key="explain_0").set_value(True).run()
        at.radio(key="live_0_evidence").set_value(POSITIVE).run()
    elif page == "suspects":  # one judge at a 50% bar: every photo CNN-3 gets wrong
        at.multiselect(key="suspect_models").set_value(["cnn3"])
        at.slider(key="suspect_threshold").set_value(0.5).run()
        _explain(at, "suspect", "suspect_pick", photos_to_explain(run), evidence=NEGATIVE)
    elif page == "robustness":
        at.selectbox(key="flip_model").set_value("cnn3")
        at.selectbox(key="flip_corruption").select("JPEG compression").run()
    elif page == "compare":
        at.selectbox(key="compare_model").set_value("cnn3").run()


@pytest.fixture
def titles(monkeypatch) -> list[str]:
    """The browser titles the app sets (st.set_page_config's page_title), in order."""
    seen = []
    configure = st.set_page_config

    def recorded(*args, **kwargs):
        if kwargs.get("page_title"):
            seen.append(kwargs["page_title"])
        return configure(*args, **kwargs)

    monkeypatch.setattr(st, "set_page_config", recorded)
    return seen


@pytest.fixture(scope="module")
def flower_run(flower_artifacts):
    from pipeline.store import artifacts

    return artifacts.latest_run(flower_artifacts)


def test_the_renamed_run_is_still_a_verified_run_of_its_own_classes(flower_run):
    from pipeline.workflows.verify import verify_run

    assert flower_run.class_names == list(FLOWER_CLASSES)
    assert flower_run.manifest["dataset"]["positive_class"] == POSITIVE
    assert flower_run.manifest["dataset"]["root"].endswith(f"/{FLOWER_FOLDER}")
    assert set(flower_run.split().path.str.split("/").str[0]) == set(FLOWER_CLASSES)
    assert verify_run(flower_run, load_models=False) == []


@pytest.mark.parametrize("page", PAGE_KEYS)
def test_every_page_of_a_run_of_other_classes_speaks_of_them(
    flower_artifacts, flower_run, titles, monkeypatch, page
):
    at = open_app(flower_artifacts, monkeypatch, page)
    assert not at.exception, at.exception
    _act(at, page, flower_run)
    assert not at.exception, at.exception
    if page == "compare":
        assert f"{OLDER_FLOWER_RUN}" in at.selectbox(key="compare_a").value
        assert "Photos B fixed (3)" in "\n".join(m.value for m in at.subheader)
    texts = [t.replace(settings.WEIGHTS_FILE_NOTE, "") for t in shown_texts(at)]
    pets = sorted({t for t in texts if PET_WORD.search(t)})
    assert not pets, pets
    if page in SHOWS_P_POSITIVE:
        assert any(P_POSITIVE in t for t in texts), page
    assert titles and titles[-1] == f"{FLOWER_FOLDER}: {NEGATIVE} vs {POSITIVE}, 4 models compared"


def test_with_no_run_the_page_title_is_neutral(tmp_path, titles, monkeypatch):
    at = open_app(tmp_path, monkeypatch)
    assert not at.exception
    assert titles == [settings.NEUTRAL_TITLE]


def test_the_real_runs_page_title_names_its_pets(real_run, titles, monkeypatch):
    at = open_app(real_run.path.parent.parent, monkeypatch)
    assert not at.exception
    assert titles == ["PetImages: Cat vs Dog, 4 models compared"]
