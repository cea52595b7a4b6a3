"""The dashboard in a real headless Chromium: every page, a real upload, screenshots."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dashboard.server import CHROMIUM_FLAGS, chromium, dashboard

pytestmark = pytest.mark.browser

# Screenshots go to a temporary folder, so that `make test` rewrites no tracked file;
# PETCOMPARE_SCREENSHOTS=docs/screenshots refreshes the README's pictures.
SCREENSHOTS_ENV = "PETCOMPARE_SCREENSHOTS"
PLOT = "[data-testid='stPlotlyChart'] .main-svg"
# url path, screenshot name, heading, an element that shows the page has finished drawing
PAGES = [
    ("", "overview", "Overview", "[data-testid='stTable']"),
    ("curves", "curves", "Training curves", PLOT),
    ("confusion", "confusion", "Confusion matrices", PLOT),
    ("mistakes", "mistakes", "Misclassifications", "[data-testid='stImage'] img"),
    ("live", "live", "Live compare", "[data-testid='stFileUploader']"),
    ("significance", "significance", "Is the difference real?", PLOT),
    ("thresholds", "thresholds", "Thresholds and ranking", PLOT),
    ("calibration", "calibration", "Calibration", PLOT),
    ("efficiency", "efficiency", "Efficiency frontier", PLOT),
    ("robustness", "robustness", "How robust is each model?", PLOT),
    ("suspects", "suspects", "Suspect labels", "[data-testid='stAlert'], [data-testid='stImage']"),
]


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = os.environ.get(SCREENSHOTS_ENV)
    return Path(folder) if folder else tmp_path_factory.mktemp("screenshots")


@pytest.fixture(scope="module")
def artifacts_folder(request) -> str:
    # PETCOMPARE_BROWSER_ARTIFACTS points the test at another folder, e.g. the full run's
    # artifacts/, to take the README's screenshots.
    return os.environ.get("PETCOMPARE_BROWSER_ARTIFACTS") or str(
        request.getfixturevalue("real_run").path.parent.parent
    )


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


@pytest.mark.parametrize("path, name, title, ready", PAGES)
def test_every_page_loads_in_a_real_browser(server, page, path, name, title, ready, shots):
    page.goto(f"{server}/{path}")
    page.get_by_role("heading", name=title).first.wait_for(timeout=60_000)
    _wait_for(page, ready)
    assert page.locator("[data-testid='stException']").count() == 0
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)


def test_live_compare_uploads_a_real_photo(server, page, shared_data, shots):
    page.goto(f"{server}/live")
    _wait_for(page, "[data-testid='stFileUploader']")
    photo = shared_data / "Dog" / "0.jpg"
    page.locator("input[type='file']").set_input_files(str(photo))
    page.get_by_text("models say").first.wait_for(timeout=120_000)
    _wait_for(page, "[data-testid='stTable']")
    text = page.locator("[data-testid='stMarkdown']").all_inner_texts()
    assert any("of 4 models say" in t for t in text), text
    assert page.locator("[data-testid='stException']").count() == 0
    page.screenshot(path=str(shots / "live_upload.png"), full_page=True)


def test_live_compare_shows_grad_cam_for_every_model(server, page, shared_data, shots):
    page.goto(f"{server}/live")
    _wait_for(page, "[data-testid='stFileUploader']")
    page.locator("input[type='file']").set_input_files(str(shared_data / "Cat" / "1.jpg"))
    page.get_by_text("Show where each model looked").first.click()
    page.get_by_text("; evidence for").first.wait_for(timeout=120_000)
    page.wait_for_timeout(1500)
    captions = page.get_by_text("; evidence for").all_inner_texts()
    assert len(captions) == 4, captions
    assert page.locator("[data-testid='stException']").count() == 0
    page.get_by_text("; evidence for").last.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    page.screenshot(path=str(shots / "live_gradcam.png"), full_page=True)


def test_several_sessions_uploading_at_once_all_get_their_answers(browser, server, real_run):
    """Three browser sessions upload two photos each at the same time (timings printed)."""
    import statistics

    from dashboard.loadbench import photo_picker, scenario

    waits = scenario(browser, server, sessions=3, rounds=2, photos=photo_picker(real_run))
    assert len(waits) == 6  # scenario() also fails on any exception shown on a page
    print(
        f"\n3 sessions x 2 uploads: median {statistics.median(waits) * 1000:.0f} ms, "
        f"max {max(waits) * 1000:.0f} ms"
    )
