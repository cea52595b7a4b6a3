"""The dashboard in a real headless Chromium on a real 10-class CIFAR-10 run: every page
draws, and a real photo uploaded to Live compare gets every model's top classes."""

from __future__ import annotations

import pytest

from dashboard import classes as nclass
from dashboard import pages
from dashboard.server import dashboard
from tests.dashboard.needs import fail_in_ci, skip_marks
from tests.dashboard.test_browser import (  # noqa: F401  (the browser fixtures)
    ALERT,
    EXCEPTION,
    MISSING,
    PLOT,
    READY,
    _upload,
    _wait_for,
    browser,
    page,
    shots,
)

pytestmark = [pytest.mark.browser, *skip_marks(MISSING)]


@pytest.fixture(scope="module", autouse=True)
def _requirements():
    fail_in_ci(MISSING)


@pytest.fixture(scope="module")
def nclass_server(cifar10_run):
    with dashboard(str(cifar10_run.path.parent.parent)) as (url, _):
        yield url


@pytest.mark.parametrize("info", pages.PAGES, ids=lambda p: p.key)
def test_every_page_draws_for_ten_classes(nclass_server, page, info, shots):  # noqa: F811
    page.goto(f"{nclass_server}/{pages.url_path(info)}")
    page.get_by_role("heading", name=info.title, exact=True).first.wait_for(timeout=60_000)
    _wait_for(page, READY.get(info.key, ALERT))
    assert page.locator(EXCEPTION).count() == 0
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / f"ten-classes-{info.key}.png"), full_page=True)


def test_a_real_upload_shows_each_models_top_classes(nclass_server, page, cifar10_run):  # noqa: F811
    val = cifar10_run.split().query("split == 'val'")
    path = val.path.iloc[0]
    photo = cifar10_run.manifest["dataset"]["root"] + "/" + path
    _upload(page, nclass_server, photo)
    _wait_for(page, PLOT)
    assert page.locator(EXCEPTION).count() == 0
    page.get_by_text("models say").first.wait_for(timeout=120_000)
    text = page.locator("[data-testid='stMain']").inner_text()
    # the vote the stored predictions give for this photo (the same pixels as the upload)
    said = [
        cifar10_run.class_names[int(cifar10_run.predictions(m).set_index("path").predicted[path])]
        for m in cifar10_run.model_names()
    ]
    assert nclass.vote(said).strip("*").split("**")[0] in text


def _screen(chart, x: float, y: float) -> tuple[float, float]:
    """Where on the screen the point (x, y) of a Plotly chart is, by its own axes."""
    return tuple(
        chart.evaluate(
            """(gd, [x, y]) => {
                const box = gd.getBoundingClientRect(), l = gd._fullLayout;
                return [box.left + l.xaxis._offset + l.xaxis.l2p(x),
                        box.top + l.yaxis._offset + l.yaxis.l2p(y)];
            }""",
            [x, y],
        )
    )


def _cell_centre(chart, true: int, predicted: int) -> tuple[float, float]:
    """Where on the screen cell (true, predicted) of a Plotly heatmap is, by its own axes."""
    chart.scroll_into_view_if_needed()
    return _screen(chart, predicted, true)


def click_a_confusion_cell(page, server: str, run) -> None:  # noqa: F811
    """A click on the first model's least-filled mistake cell lists that cell's photos."""
    page.goto(f"{server}/{pages.url_path(pages.page('confusion'))}")
    _wait_for(page, PLOT)
    names, models = run.class_names, run.model_names()
    matrix = run.confusion(models[0])["matrix"]
    n = len(names)
    count, true, predicted = min(
        (matrix[i][j], i, j) for i in range(n) for j in range(n) if i != j and matrix[i][j]
    )
    answers = sum(run.confusion(m)["matrix"][true][predicted] for m in models)
    x, y = _cell_centre(page.locator(".js-plotly-plot").first, true, predicted)
    page.mouse.click(x, y)
    caption = f"{answers:,} photo answer(s) of true {names[true]} predicted as {names[predicted]}."
    page.get_by_text(caption).wait_for(timeout=60_000)
    assert page.locator(EXCEPTION).count() == 0


def test_a_click_on_a_confusion_cell_lists_its_photos(nclass_server, page, cifar10_run):  # noqa: F811
    click_a_confusion_cell(page, nclass_server, cifar10_run)


def _split_at_a_gap(values) -> float:
    """A value between two neighbouring points, at the widest gap of the middle third: a box
    edge there has no point near it."""
    ordered = sorted(values)
    third = len(ordered) // 3
    middle = ordered[third : 2 * third + 1]
    gaps = [(b - a, (a + b) / 2) for a, b in zip(middle, middle[1:], strict=False)]
    return max(gaps)[1]


def test_a_box_on_the_map_lists_exactly_the_photos_inside_it(nclass_server, page, cifar10_run):  # noqa: F811
    import pandas as pd

    from pipeline.store import artifacts

    points = pd.read_csv(cifar10_run.path / artifacts.PHOTO_MAP)
    page.goto(f"{nclass_server}/{pages.url_path(pages.page('map'))}")
    _wait_for(page, PLOT)
    x_edge, y_edge = _split_at_a_gap(points.x), _split_at_a_gap(points.y)
    inside = int(((points.x < x_edge) & (points.y < y_edge)).sum())
    x_span, y_span = points.x.max() - points.x.min(), points.y.max() - points.y.min()
    chart = page.locator(".js-plotly-plot").first
    chart.scroll_into_view_if_needed()
    start = _screen(chart, points.x.min() - 0.02 * x_span, points.y.min() - 0.02 * y_span)
    end = _screen(chart, x_edge, y_edge)
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(*end, steps=12)
    page.mouse.up()
    page.get_by_text(f"{inside:,} photo(s) selected").wait_for(timeout=60_000)
    _wait_for(page, "[data-testid='stImage'] img")
    assert page.locator(EXCEPTION).count() == 0
    assert page.locator("[data-testid='stImage']").count() == min(inside, 24)
