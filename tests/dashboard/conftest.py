"""Dashboard fixtures: AppTest bound to an artifacts folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import pages
from pipeline.store import artifacts
from tests.dashboard.expected import model_answers

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"


# Every page's key, from the dashboard's one page list.
PAGE_KEYS = [p.key for p in pages.PAGES]


def open_app(artifacts_dir: Path, monkeypatch, page: str | None = None) -> AppTest:
    """The app on `artifacts_dir`, switched to the page whose key is `page`."""
    monkeypatch.setenv("PETCOMPARE_ARTIFACTS", str(artifacts_dir))
    at = AppTest.from_file(str(APP), default_timeout=180)
    at.run()
    if page:
        at.switch_page(pages.page(page).file)
        at.run()
    return at


@pytest.fixture(scope="session")
def partial_artifacts(real_run, tmp_path_factory) -> Path:
    """A copy of the real run with cnn4 missing and one of cnn3's files deleted."""
    out = tmp_path_factory.mktemp("partial")
    target = out / artifacts.RUNS / real_run.path.name
    shutil.copytree(real_run.path, target)
    shutil.rmtree(target / artifacts.MODELS / "cnn4")
    (target / artifacts.MODELS / "cnn3" / artifacts.CONFUSION).unlink()
    (target / artifacts.ANALYSIS).unlink()  # a run still training has no analysis yet
    manifest = json.loads((target / artifacts.MANIFEST).read_text())
    manifest["models"] = [m for m in manifest["models"] if m["name"] != "cnn4"]
    manifest["status"] = "running"
    (target / artifacts.MANIFEST).write_text(json.dumps(manifest))
    return out


@pytest.fixture(scope="session")
def broken_artifacts(real_run, tmp_path_factory) -> Path:
    """A copy of the real run whose manifest still lists every model, but cnn4 lost its
    predictions.csv and cnn3 its model.keras."""
    out = tmp_path_factory.mktemp("broken")
    target = out / artifacts.RUNS / real_run.path.name
    shutil.copytree(real_run.path, target)
    (target / artifacts.MODELS / "cnn4" / artifacts.PREDICTIONS).unlink()
    (target / artifacts.MODELS / "cnn3" / artifacts.MODEL_FILE).unlink()
    return out


@pytest.fixture(scope="session")
def own_answers(real_run):
    """photo -> each model's P(positive) for it, computed without the dashboard."""
    return model_answers(real_run)
