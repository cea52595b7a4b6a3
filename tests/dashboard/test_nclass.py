"""Every page on runs of 3 and 10 classes (tests/dashboard/synthetic.py), with answers
checked against the run's own files and the models' own predictions."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from dashboard import pages, settings
from dashboard.settings import label
from pipeline.store import artifacts
from pipeline.store.predictions import confidence_of, probabilities_of
from tests.dashboard.conftest import PAGE_KEYS, open_app
from tests.dashboard.test_pages import _heatmap
from tests.dashboard.test_wording import PET_WORD, shown_texts

SIZES = (3, 10)


def _run(folder) -> artifacts.Run:
    return artifacts.latest_run(folder)


def _frames(at, column: str) -> list[pd.DataFrame]:
    return [d.value for d in at.dataframe if column in getattr(d.value, "columns", [])]


def _chart(at, key: str) -> dict:
    (found,) = [c for c in at.get("plotly_chart") if c.key == key]
    return json.loads(found.proto.spec)


def _act(at, page: str, run: artifacts.Run) -> None:
    """Bring out what a page shows on request: answers, Grad-CAM, another class."""
    if page == "live":
        at.multiselect(key="samples").set_value(at.multiselect(key="samples").options[:1]).run()
        at.toggle(key="explain_0").set_value(True).run()
    elif page == "mistakes":
        pick = at.selectbox(key="mis_pick")
        stored = [p for p in pick.options if run.gradcam_of(p) is not None]
        pick.set_value(stored[0] if stored else pick.value).run()
        if any(r.key == "pick_evidence" for r in at.radio):
            at.radio(key="pick_evidence").set_value("the photo's true class").run()
    elif page == "thresholds":
        at.selectbox(key="ranking_class").set_value(run.class_names[-1])
        at.slider(key="abstain").set_value(0.8).run()
    elif page == "calibration":
        at.radio(key="calibration_which").set_value("after temperature scaling").run()
    elif page == "confusion":
        at.radio(key="cm_mode").set_value("row-normalized").run()


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("page", PAGE_KEYS)
def test_every_page_opens_on_a_run_of_many_classes(nclass_runs, monkeypatch, page, size):
    run = _run(nclass_runs[size])
    at = open_app(nclass_runs[size], monkeypatch, page)
    assert not at.exception, at.exception
    assert at.title[0].value == pages.page(page).title
    _act(at, page, run)
    assert not at.exception, at.exception
    texts = [t.replace(settings.WEIGHTS_FILE_NOTE, "") for t in shown_texts(at)]
    pets = sorted({t for t in texts if PET_WORD.search(t)})
    assert not pets, pets
    second = f"P({run.class_names[1]})"  # the two-class wording of P(second class)
    assert not any(second in t for t in texts), page


@pytest.mark.parametrize("size", SIZES)
def test_the_title_names_the_data_and_some_of_its_classes(nclass_runs, size):
    title = settings.data_title(_run(nclass_runs[size]).manifest)
    if size == 3:
        assert (
            title == 'things: 3 classes (bird, café, "au lait", zebra crossing), 2 models compared'
        )
    else:
        assert title == "cifar10: 10 classes (airplane, automobile, bird, …), 2 models compared"


def test_overview_shows_class_counts_and_accuracy_per_class(nclass_runs, monkeypatch):
    run = _run(nclass_runs[10])
    at = open_app(nclass_runs[10], monkeypatch)
    counts = _frames(at, "validation")[0]
    assert counts["class"].tolist() == run.class_names
    assert counts.validation.tolist() == [
        run.manifest["dataset"]["counts"]["val"][c] for c in run.class_names
    ]
    accuracy = _frames(at, "class")[-1].set_index("class")
    for name in run.model_names():
        frame = run.predictions(name)
        for i, c in enumerate(run.class_names):
            mine = frame[frame.label == i]
            assert accuracy.loc[c, label(name)] == pytest.approx((mine.predicted == i).mean())
    board = _frames(at, "val accuracy")[0]
    assert "macro F1" in board.columns and "top-5 accuracy" in board.columns


@pytest.mark.parametrize("size", SIZES)
def test_confusion_page_lists_the_photos_of_a_chosen_cell(nclass_runs, monkeypatch, size):
    run = _run(nclass_runs[size])
    at = open_app(nclass_runs[size], monkeypatch, "confusion")
    pairs = _frames(at, "predicted as")[0]
    assert pairs.total.is_monotonic_decreasing and len(pairs) <= 20
    true, predicted = pairs["true class"].iloc[0], pairs["predicted as"].iloc[0]
    at.selectbox(key="cell_true").set_value(true)
    at.selectbox(key="cell_predicted").set_value(predicted).run()
    assert not at.exception
    shown = _frames(at, "confidence")[0]
    t, q = run.class_names.index(true), run.class_names.index(predicted)
    expected = set()
    for name in run.model_names():
        frame = run.predictions(name)
        hit = frame[(frame.label == t) & (frame.predicted == q)]
        expected |= {(p, label(name)) for p in hit.path}
    assert set(zip(shown.path, shown.model, strict=True)) == expected
    assert pairs.total.iloc[0] == len(expected)
    for name in run.model_names():
        assert _heatmap(at, f"cm_{name}").tolist() == run.confusion(name)["matrix"]


def test_misclassification_filters_return_the_right_rows(nclass_runs, monkeypatch):
    run = _run(nclass_runs[10])
    names = run.model_names()
    wrong = pd.concat([run.misclassified(n).assign(model=n) for n in names])
    true, predicted = wrong.label.mode()[0], None
    predicted = wrong[wrong.label == true].predicted.mode()[0]
    at = open_app(nclass_runs[10], monkeypatch, "mistakes")
    at.multiselect(key="mis_models").set_value(names)
    at.selectbox(key="mis_true").set_value(run.class_names[true])
    at.selectbox(key="mis_predicted").set_value(run.class_names[predicted])
    at.slider(key="mis_conf").set_value((0.3, 1.0)).run()
    assert not at.exception
    matching = 0
    for name in names:
        frame = run.predictions(name)
        p = confidence_of(frame, run.class_names)
        matching += int(((frame.label == true) & (frame.predicted == predicted) & (p >= 0.3)).sum())
    assert matching > 0
    assert f"{matching:,} mistakes match" in "\n".join(c.value for c in at.caption)
    cross = _frames(at, "missed_by")[0]
    expected = set().union(*(set(run.misclassified(n).path) for n in names))
    assert set(cross.path) == expected
    for name in names:
        frame = run.predictions(name).set_index("path")
        says = [run.class_names[frame.loc[p, "predicted"]] for p in cross.path]
        assert cross[f"{label(name)} says"].tolist() == says


def test_live_compare_shows_each_models_own_top_classes(nclass_runs, monkeypatch):
    from pipeline.data.images import load_model_input
    from pipeline.modeling import saved_models

    run = _run(nclass_runs[10])
    at = open_app(nclass_runs[10], monkeypatch, "live")
    options = at.multiselect(key="samples").options
    assert len(options) == 10
    at.multiselect(key="samples").set_value(options[3:4]).run()
    assert not at.exception
    photo = nclass_runs[10] / "data" / "cifar10" / options[3]
    bars = {t["name"]: t for t in _chart(at, "top_k_0")["data"]}
    (table,) = [t.value for t in at.table if "verdict" in t.value.columns]
    for name in run.model_names():
        model = saved_models.load(run.model_path(name))
        p = np.asarray(model.predict_on_batch(load_model_input(photo, (32, 32))[None]))[0]
        order = np.argsort(-p)[:5]
        assert bars[label(name)]["y"] == [run.class_names[i] for i in order]
        x = np.asarray(bars[label(name)]["x"]) if isinstance(bars[label(name)]["x"], list) else None
        if x is not None:
            np.testing.assert_allclose(x, p[order], atol=1e-5)
        assert table.loc[label(name), "verdict"] == run.class_names[order[0]]
        assert float(table.loc[label(name), "P(verdict)"]) == pytest.approx(p[order[0]], abs=6e-4)
    assert any("models say" in m.value for m in at.markdown)


def test_suspects_page_names_the_suspected_class(nclass_runs, monkeypatch):
    run = _run(nclass_runs[3])
    at = open_app(nclass_runs[3], monkeypatch, "suspects")
    assert not at.exception
    found = run.suspects()
    assert len(found) == 2
    table = _frames(at, "suspected_class")[0]
    assert set(table.suspected_class) == set(found.suspected_class)
    at.slider(key="suspect_threshold").set_value(0.5).run()  # recomputed by the page
    assert not at.exception
    assert set(_frames(at, "suspected_class")[0].path) >= set(found.path)


def test_compare_runs_says_when_the_classes_differ(nclass_runs, tmp_path, monkeypatch):
    import shutil

    for size in SIZES:
        run = _run(nclass_runs[size])
        shutil.copytree(run.path, tmp_path / artifacts.RUNS / run.path.name)
    at = open_app(tmp_path, monkeypatch, "compare")
    assert not at.exception, at.exception
    assert any("different classes" in w.value for w in at.warning)
    assert _frames(at, "shared photos")


def test_top_k_probabilities_come_from_the_stored_columns(nclass_runs):
    run = _run(nclass_runs[3])
    frame = run.predictions(run.model_names()[0])
    p = probabilities_of(frame, run.class_names)
    assert [c for c in frame.columns if c.startswith("p:")] == [f"p:{c}" for c in run.class_names]
    np.testing.assert_allclose(p.sum(axis=1), 1, atol=1e-5)


@pytest.fixture(scope="module")
def hundred_classes(tmp_path_factory):
    """An artifacts folder whose latest run has 100 classes, two photos each."""
    from tests.dashboard.synthetic import build_run

    out = tmp_path_factory.mktemp("nclass100")
    build_run(out, tuple(f"kind {i:03d}" for i in range(100)), "hundred", per_class=2)
    return out


def test_the_confusion_page_stays_usable_at_a_hundred_classes(hundred_classes, monkeypatch):
    run = _run(hundred_classes)
    at = open_app(hundred_classes, monkeypatch, "confusion")
    assert not at.exception, at.exception
    for name in run.model_names():
        spec = _chart(at, f"cm_{name}")
        heatmap, cells = spec["data"]
        assert "texttemplate" not in heatmap  # no numbers in 10,000 cells: hover instead
        assert len(cells["x"]) == len(cells["y"]) == 100 * 100  # one to click on each cell
        assert spec["layout"]["height"] <= 900
        assert spec["layout"]["xaxis"]["showticklabels"] is False
        assert _heatmap(at, f"cm_{name}").tolist() == run.confusion(name)["matrix"]
    assert "past 20 classes the cells carry no numbers" in " ".join(c.value for c in at.caption)


def test_a_click_on_a_cell_names_its_true_and_predicted_class():
    from dashboard.charts import clicked_cell

    names = ["ant", "bee", 'café, "au lait"']
    point = {"x": 'café, "au lait"', "y": "bee", "curve_number": 1, "point_index": 5}
    assert clicked_cell({"points": [point]}, names) == (1, 2)
    assert clicked_cell({"points": []}, names) is None
    assert clicked_cell(None, names) is None
    assert clicked_cell({"points": [{"x": "pred ant", "y": "true bee"}]}, names) is None
