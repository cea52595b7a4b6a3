"""The one page list: complete, importable without Streamlit, and what the app navigates."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dashboard import pages
from tests.dashboard import needs
from tests.dashboard.conftest import open_app

ROOT = Path(__file__).resolve().parents[2]


def test_the_page_list_names_every_view_once_in_a_known_section():
    views = {f"views/{f.name}" for f in (ROOT / "dashboard" / "views").glob("*.py")}
    assert sorted(p.file for p in pages.PAGES) == sorted(views - {"views/__init__.py"})
    assert all(pages.path(p).is_file() for p in pages.PAGES)
    for field in ("key", "file", "title"):
        values = [getattr(p, field) for p in pages.PAGES]
        assert len(set(values)) == len(values), field
    assert {p.section for p in pages.PAGES} == set(pages.SECTIONS)
    assert pages.DEFAULT.key == "overview" and pages.url_path(pages.DEFAULT) == ""
    assert [pages.url_path(p) for p in pages.PAGES[1:]] == [p.key for p in pages.PAGES[1:]]
    grouped = pages.by_section()
    assert list(grouped) == list(pages.SECTIONS)
    listed = [p for infos in grouped.values() for p in infos]
    assert len(listed) == len(pages.PAGES) and set(listed) == set(pages.PAGES)
    with pytest.raises(KeyError):
        pages.page("nowhere")


def test_the_page_list_imports_without_streamlit():
    code = "import sys, dashboard.pages; print('streamlit' in sys.modules)"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True)
    assert out.returncode == 0, out.stderr.decode()
    assert out.stdout.decode().strip() == "False"


def test_the_app_navigates_the_one_list_in_its_sections(tmp_path, monkeypatch):
    import streamlit as st

    navigation, given = st.navigation, []

    def spy(arg, **kwargs):
        given.append(arg)
        return navigation(arg, **kwargs)

    monkeypatch.setattr(st, "navigation", spy)
    at = open_app(tmp_path, monkeypatch)  # no run needed to build the navigation
    assert not at.exception
    (sections,) = given
    assert list(sections) == list(pages.SECTIONS)
    for section, infos in pages.by_section().items():
        shown = [(p.title, p.icon, p.url_path) for p in sections[section]]
        assert shown == [(i.title, i.icon, pages.url_path(i)) for i in infos], section


def test_browser_tests_skip_with_the_reason_outside_ci_and_fail_in_ci(monkeypatch, tmp_path):
    monkeypatch.setenv("PETCOMPARE_CHROMIUM", str(tmp_path / "no-chromium"))
    missing = needs.browser_missing()
    assert missing and "Chromium not found" in missing
    monkeypatch.delenv("PETCOMPARE_CHROMIUM")
    monkeypatch.delenv(needs.BROWSER_ARTIFACTS_ENV, raising=False)
    absent = tmp_path / "shared" / "PetImages"
    assert needs.browser_missing((absent,)) == f"needs {absent}"
    monkeypatch.setenv(needs.BROWSER_ARTIFACTS_ENV, str(tmp_path))  # pages of another folder
    assert needs.browser_missing((absent,)) is None

    monkeypatch.delenv("CI", raising=False)
    (mark,) = needs.skip_marks(missing)
    assert mark.name == "skip" and mark.kwargs["reason"] == missing
    needs.fail_in_ci(missing)  # outside CI: nothing
    monkeypatch.setenv("CI", "true")
    assert needs.skip_marks(missing) == []
    with pytest.raises(pytest.fail.Exception, match="CI must run the browser tests"):
        needs.fail_in_ci(missing)
    assert needs.skip_marks(None) == [] and needs.fail_in_ci(None) is None


@pytest.mark.parametrize("ci", ["", "true"])
def test_the_browser_module_without_chromium_skips_or_fails(tmp_path, ci):
    """The real module in a pytest of its own, Chromium pointed at nothing: every test skips
    with the reason, or under CI=true fails it, before any run is trained."""
    env = dict(os.environ, PETCOMPARE_CHROMIUM=str(tmp_path / "no-chromium"), CI=ci)
    env.pop("PETCOMPARE_KEEP_TEST_RUN", None)  # nothing may train: a fresh run would
    argv = [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider"]
    argv += ["tests/dashboard/test_browser.py", "--basetemp", str(tmp_path / "t")]
    out = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, timeout=300)
    text = out.stdout.decode()
    assert "Chromium not found" in text, text[-3000:]
    assert " passed" not in text, text[-3000:]
    if ci:
        assert out.returncode == 1 and "CI must run the browser tests" in text, text[-3000:]
    else:
        assert out.returncode == 0 and " skipped" in text and "error" not in text, text[-3000:]
