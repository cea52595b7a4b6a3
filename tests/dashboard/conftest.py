"""Dashboard fixtures: AppTest bound to an artifacts folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from pipeline.store import artifacts

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
PAGES = {
    "overview": "views/overview.py",
    "curves": "views/curves.py",
    "confusion": "views/confusion.py",
    "mistakes": "views/mistakes.py",
    "live": "views/live.py",
    "significance": "views/significance.py",
    "thresholds": "views/thresholds.py",
    "calibration": "views/calibration.py",
    "efficiency": "views/efficiency.py",
    "robustness": "views/robustness.py",
    "suspects": "views/suspects.py",
    "compare": "views/compare.py",
    "sweeps": "views/sweeps.py",
}


def open_app(artifacts_dir: Path, monkeypatch, page: str | None = None) -> AppTest:
    monkeypatch.setenv("PETCOMPARE_ARTIFACTS", str(artifacts_dir))
    at = AppTest.from_file(str(APP), default_timeout=180)
    at.run()
    if page:
        at.switch_page(PAGES[page])
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
