"""The dashboard in a real headless Chromium: every page, a real upload, screenshots."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
# Screenshots go to a temporary folder, so that `make test` rewrites no tracked file;
# PETCOMPARE_SCREENSHOTS=docs/screenshots refreshes the README's pictures.
SCREENSHOTS_ENV = "PETCOMPARE_SCREENSHOTS"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
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
    ("suspects", "suspects", "Suspect labels", "[data-testid='stAlert'], [data-testid='stImage']"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = os.environ.get(SCREENSHOTS_ENV)
    return Path(folder) if folder else tmp_path_factory.mktemp("screenshots")


@pytest.fixture(scope="module")
def server(request):
    port = _free_port()
    # PETCOMPARE_BROWSER_ARTIFACTS points the test at another folder, e.g. the full run's
    # artifacts/, to take the README's screenshots.
    folder = os.environ.get("PETCOMPARE_BROWSER_ARTIFACTS") or str(
        request.getfixturevalue("real_run").path.parent.parent
    )
    env = dict(os.environ, PETCOMPARE_ARTIFACTS=folder)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(ROOT / "dashboard" / "app.py"),
            "--server.headless",
            "true",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("streamlit did not start: " + proc.stdout.read().decode(errors="replace"))
    yield url
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture(scope="module")
def page():
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"Chromium not found at {CHROMIUM}; run `make browser` (apt-get install chromium)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        yield context.new_page()
        browser.close()


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
    _wait_for(page, "[data-testid='stDataFrame']")
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
