"""A real repeat group in a real headless Chromium: the spread of each model over the
repeats and the verdicts over seeds draw, as do the mean curves."""

from __future__ import annotations

import pytest

from dashboard import pages
from dashboard.server import dashboard
from tests.dashboard.needs import fail_in_ci, skip_marks
from tests.dashboard.test_browser import (  # noqa: F401  (the browser fixtures)
    EXCEPTION,
    MISSING,
    PLOT,
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
def group_server(repeat_group):
    out, _ = repeat_group
    with dashboard(str(out)) as (url, _):
        yield url


def test_the_verdicts_over_seeds_draw(group_server, page, repeat_group, shots):  # noqa: F811
    _, record = repeat_group
    page.goto(f"{group_server}/{pages.url_path(pages.page('significance'))}")
    page.get_by_role("heading", name="Across 3 repeats: beyond seed noise?").wait_for(
        timeout=60_000
    )
    _wait_for(page, PLOT)
    for pair in record["summary"]["pairs"]:
        page.get_by_text(pair["verdict"]).wait_for(timeout=30_000)
    assert page.locator(EXCEPTION).count() == 0
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "repeats-significance.png"), full_page=True)


def test_the_mean_curves_over_the_repeats_draw(group_server, page):  # noqa: F811
    page.goto(f"{group_server}/{pages.url_path(pages.page('curves'))}")
    _wait_for(page, PLOT)
    page.get_by_text("The mean over the group's 3 repeats").click()
    page.get_by_text("CNN-3 (mean of 3)").first.wait_for(timeout=60_000)
    assert page.locator(EXCEPTION).count() == 0
