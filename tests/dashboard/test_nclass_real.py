"""Every page on real studies of 3 and 10 CIFAR-10 classes (tests/conftest.py), with the
overview's numbers checked against the run's own records."""

from __future__ import annotations

import pytest

from dashboard import pages
from dashboard.settings import label
from tests.dashboard.conftest import PAGE_KEYS, open_app
from tests.dashboard.test_nclass import _act
from tests.dashboard.test_wording import shown_texts

pytestmark = pytest.mark.integration

RUNS = ("cifar3_run", "cifar10_run")


@pytest.mark.parametrize("fixture", RUNS)
@pytest.mark.parametrize("page", PAGE_KEYS)
def test_every_page_opens_on_a_real_run_of_many_classes(request, monkeypatch, fixture, page):
    run = request.getfixturevalue(fixture)
    at = open_app(run.path.parent.parent, monkeypatch, page)
    assert not at.exception, at.exception
    assert at.title[0].value == pages.page(page).title
    _act(at, page, run)
    assert not at.exception, at.exception
    second = f"P({run.class_names[1]})"  # the two-class wording of P(second class)
    assert not any(second in t for t in shown_texts(at)), page


@pytest.mark.parametrize("fixture", RUNS)
def test_the_overview_shows_each_models_recorded_accuracy(request, monkeypatch, fixture):
    run = request.getfixturevalue(fixture)
    at = open_app(run.path.parent.parent, monkeypatch)
    (board,) = [d.value for d in at.dataframe if "val accuracy" in getattr(d.value, "columns", [])]
    shown = dict(zip(board.model, board["val accuracy"], strict=True))
    assert len(shown) == len(run.model_names())
    for name in run.model_names():
        assert shown[label(name)] == pytest.approx(run.metrics(name)["accuracy"])
