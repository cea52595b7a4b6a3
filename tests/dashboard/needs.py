"""What the browser tests need, and what they do without it: skip with the reason, except
in CI (the `CI` variable set), where a missing requirement must fail them instead."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from dashboard.server import chromium
from tests.conftest import SHARED_DATA, SHARED_WEIGHTS

# Another artifacts folder for the browser tests (the README's screenshots); with it, the
# pages need no run trained from ../shared.
BROWSER_ARTIFACTS_ENV = "PETCOMPARE_BROWSER_ARTIFACTS"


def in_ci() -> bool:
    return bool(os.environ.get("CI"))


def browser_missing(shared: tuple[Path, ...] = (SHARED_DATA, SHARED_WEIGHTS)) -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if importlib.util.find_spec("playwright") is None:
        return "Playwright is not installed (pip install -r requirements-dev.txt)"
    try:
        chromium()
    except RuntimeError as err:
        return str(err)
    absent = [str(p) for p in shared if not p.exists()]
    if absent and not os.environ.get(BROWSER_ARTIFACTS_ENV):
        return "needs " + " and ".join(absent)
    return None


def skip_marks(missing: str | None) -> list:
    """A skip mark with the reason, outside CI; nothing in CI (`fail_in_ci` fails there)."""
    return [pytest.mark.skip(reason=missing)] if missing and not in_ci() else []


def fail_in_ci(missing: str | None) -> None:
    """Fail with the reason where CI runs the tests without what they need."""
    if missing and in_ci():
        pytest.fail(f"CI must run the browser tests, but: {missing}", pytrace=False)
