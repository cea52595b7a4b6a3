"""The dashboard in a real headless Chromium: every page of the page list, real uploads
checked against each model's own answer, several sessions at once, screenshots.

Without Chromium, Playwright or ../shared these tests skip with the reason; in CI they fail.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dashboard import pages
from dashboard.server import CHROMIUM_FLAGS, chromium, dashboard
from pipeline.store import artifacts
from tests.dashboard.expected import assert_answers, model_answers
from tests.dashboard.needs import BROWSER_ARTIFACTS_ENV, browser_missing, fail_in_ci, skip_marks

MISSING = browser_missing()
pytestmark = [pytest.mark.browser, *skip_marks(MISSING)]

# Screenshots go to a temporary folder, so that `make test` rewrites no tracked file;
# PETCOMPARE_SCREENSHOTS=docs/screenshots refreshes the README's pictures.
SCREENSHOTS_ENV = "PETCOMPARE_SCREENSHOTS"
PLOT = "[data-testid='stPlotlyChart'] .main-svg"
ALERT = "[data-testid='stAlert']"
EXCEPTION = "[data-testid='stException']"
# An element that shows a page has finished drawing, by page key (any other page: an alert).
# Compare runs and Sweeps say what they need on a folder with one run and no sweep.
READY = {
    "overview": "[data-testid='stTable']",
    "curves": PLOT,
    "confusion": PLOT,
    "mistakes": "[data-testid='stImage'] img",
    "live": "[data-testid='stFileUploader']",
    "significance": PLOT,
    "thresholds": PLOT,
    "calibration": PLOT,
    "efficiency": PLOT,
    "robustness": PLOT,
    "map": f"{ALERT}, {PLOT}",
    "suspects": f"{ALERT}, [data-testid='stImage']",
    "leaks": f"{ALERT}, [data-testid='stMetric']",
    "compare": f"{ALERT}, {PLOT}",
    "sweeps": f"{ALERT}, {PLOT}",
}


@pytest.fixture(scope="session", autouse=True)
def _requirements():
    """In CI, a missing requirement fails every test here, before any fixture runs."""
    fail_in_ci(MISSING)


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = os.environ.get(SCREENSHOTS_ENV)
    return Path(folder) if folder else tmp_path_factory.mktemp("screenshots")


@pytest.fixture(scope="module")
def artifacts_folder(request) -> str:
    # PETCOMPARE_BROWSER_ARTIFACTS points the test at another folder, e.g. the full run's
    # artifacts/, to take the README's screenshots.
    return os.environ.get(BROWSER_ARTIFACTS_ENV) or str(
        request.getfixturevalue("real_run").path.parent.parent
    )


@pytest.fixture(scope="module")
def served_run(artifacts_folder) -> artifacts.Run:
    """The run the dashboard opens: the one `latest` points at, else the newest."""
    folder = Path(artifacts_folder)
    return artifacts.latest_run(folder) or artifacts.list_runs(folder)[0]


@pytest.fixture(scope="module")
def expected(served_run):
    """photo -> each model's P(positive), computed without the dashboard."""
    return model_answers(served_run)


@pytest.fixture(scope="module")
def server(artifacts_folder):
    with dashboard(artifacts_folder) as (url, _):
        yield url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_FLAGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    yield context.new_page()
    context.close()


def _wait_for(page, selector: str) -> None:
    """Until `selector` is drawn, then a moment for charts to finish their transitions."""
    page.wait_for_selector(selector, state="visible", timeout=120_000)
    page.wait_for_timeout(1500)


def _upload(page, server: str, photo: Path) -> None:
    page.goto(f"{server}/live")
    _wait_for(page, "[data-testid='stFileUploader']")
    page.locator("input[type='file']").set_input_files(str(photo))


def test_every_ready_selector_names_a_page_of_the_list():
    assert set(READY) <= {p.key for p in pages.PAGES}


@pytest.mark.parametrize("info", pages.PAGES, ids=lambda p: p.key)
def test_every_page_loads_in_a_real_browser(server, page, info, shots):
    page.goto(f"{server}/{pages.url_path(info)}")
    page.get_by_role("heading", name=info.title, exact=True).first.wait_for(timeout=60_000)
    _wait_for(page, READY.get(info.key, ALERT))
    assert page.locator("h1").first.inner_text().strip() == info.title
    assert page.locator(EXCEPTION).count() == 0
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / f"{info.key}.png"), full_page=True)


def test_the_sidebar_lists_every_page_under_its_section(server, page):
    page.goto(server)
    nav = page.locator("[data-testid='stSidebarNav']")
    nav.wait_for(timeout=60_000)
    more = nav.locator("[data-testid='stSidebarNavViewButton']")
    if more.count() and "more" in more.inner_text():  # long lists start collapsed
        more.click()
        page.wait_for_timeout(500)
    wanted = [
        text
        for section, infos in pages.by_section().items()
        for text in (section, *(i.title for i in infos))
    ]
    lines = [line.strip() for line in nav.inner_text().splitlines()]
    assert [line for line in lines if line in wanted] == wanted


def test_live_compare_uploads_a_real_photo(server, page, shared_data, shots, served_run, expected):
    from dashboard.loadbench import answers_shown

    photo = shared_data / "Dog" / "0.jpg"
    _upload(page, server, photo)
    page.get_by_text("models say").first.wait_for(timeout=120_000)
    _wait_for(page, "[data-testid='stTable']")
    text = page.locator("[data-testid='stMarkdown']").all_inner_texts()
    n = len(served_run.model_names())
    assert any(f"of {n} models say" in t for t in text), text
    assert page.locator(EXCEPTION).count() == 0
    (shown,) = answers_shown(page)
    assert_answers(shown, expected(photo), served_run.class_names)
    page.screenshot(path=str(shots / "live_upload.png"), full_page=True)


def test_live_compare_shows_grad_cam_for_every_model(server, page, shared_data, shots):
    _upload(page, server, shared_data / "Cat" / "1.jpg")
    page.get_by_text("Show where each model looked").first.click()
    page.get_by_text("; evidence for").first.wait_for(timeout=120_000)
    page.wait_for_timeout(1500)
    captions = page.get_by_text("; evidence for").all_inner_texts()
    assert len(captions) == 4, captions
    assert page.locator(EXCEPTION).count() == 0
    page.get_by_text("; evidence for").last.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    page.screenshot(path=str(shots / "live_gradcam.png"), full_page=True)


def test_several_sessions_uploading_at_once_each_get_their_own_photos_answers(
    browser, server, served_run, expected
):
    """Three browser sessions upload two different photos each at the same time; every
    session shows, for each of its photos, each model's own answer to that photo."""
    import statistics

    from dashboard.loadbench import photo_picker, scenario

    sessions, rounds = 3, 2
    photos = photo_picker(served_run)
    uploaded = {(s, r): photos(s, r) for s in range(sessions) for r in range(rounds)}
    answers = {key: expected(photo) for key, photo in uploaded.items()}
    assert len(set(uploaded.values())) == sessions * rounds  # a different photo each time
    # ...with different answers, so that a session shown another's answer would be caught
    assert len({tuple(round(p, 3) for p in a.values()) for a in answers.values()}) == len(answers)
    shown: dict[int, list] = {}
    waits = scenario(browser, server, sessions, rounds, photos, shown=shown)
    assert len(waits) == sessions * rounds  # scenario() also fails on any exception shown
    for (session, round_), answer in answers.items():
        assert_answers(shown[session][round_], answer, served_run.class_names)
    print(
        f"\n{sessions} sessions x {rounds} uploads: median "
        f"{statistics.median(waits) * 1000:.0f} ms, max {max(waits) * 1000:.0f} ms"
    )


def test_the_label_errors_of_every_photo_show_in_their_tab(server, page, served_run, shots):
    issues = served_run.label_issues()
    assert issues is not None and not issues.empty  # real PetImages photos always have some
    page.goto(f"{server}/{pages.url_path(pages.page('suspects'))}")
    page.get_by_role("tab", name="Across every photo").click()
    first = issues.iloc[0]
    names = served_run.class_names
    caption = (
        f"#1 {first.split}: labelled {names[first.label]}, looks like {names[first.suggested]}"
    )
    page.get_by_text(caption).first.wait_for(timeout=60_000)
    _wait_for(page, "[data-testid='stImage'] img")
    assert page.locator(EXCEPTION).count() == 0
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "suspects-every-photo.png"), full_page=True)
