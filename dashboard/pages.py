"""The dashboard's pages, in one list: `app.py` makes them `st.Page`s, the tests visit each.

Plain records, no Streamlit: importing this module costs nothing and draws nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class PageInfo:
    key: str  # also the page's url path ("" for the default page)
    file: str  # relative to dashboard/, as st.Page and st.switch_page take it
    title: str
    icon: str
    section: str


# Navigation sections, in the order the sidebar shows them.
RESULTS, DIAGNOSTICS, RUNS = "Results", "Diagnostics", "Runs"
SECTIONS = (RESULTS, DIAGNOSTICS, RUNS)


# section -> its pages' (key, file, title, icon), in navigation order.
_ROWS: dict[str, tuple[tuple[str, str, str, str], ...]] = {
    RESULTS: (
        ("overview", "views/overview.py", "Overview", ":material/leaderboard:"),
        ("curves", "views/curves.py", "Training curves", ":material/show_chart:"),
        ("confusion", "views/confusion.py", "Confusion matrices", ":material/grid_on:"),
        ("mistakes", "views/mistakes.py", "Misclassifications", ":material/image_search:"),
        ("live", "views/live.py", "Live compare", ":material/photo_camera:"),
    ),
    DIAGNOSTICS: (
        ("significance", "views/significance.py", "Is the difference real?", ":material/balance:"),
        ("thresholds", "views/thresholds.py", "Thresholds and ranking", ":material/tune:"),
        ("calibration", "views/calibration.py", "Calibration", ":material/straighten:"),
        ("efficiency", "views/efficiency.py", "Efficiency frontier", ":material/speed:"),
        ("robustness", "views/robustness.py", "How robust is each model?", ":material/shield:"),
        ("map", "views/photo_map.py", "Map of the photos", ":material/scatter_plot:"),
        ("suspects", "views/suspects.py", "Suspect labels", ":material/report:"),
        ("leaks", "views/leaks.py", "Near-duplicates and leaks", ":material/content_copy:"),
    ),
    RUNS: (
        ("compare", "views/compare.py", "Compare runs", ":material/compare_arrows:"),
        ("sweeps", "views/sweeps.py", "Sweeps", ":material/grid_view:"),
    ),
}
PAGES: tuple[PageInfo, ...] = tuple(
    PageInfo(key, file, title, icon=icon, section=section)
    for section, rows in _ROWS.items()
    for key, file, title, icon in rows
)
DEFAULT = PAGES[0]
_BY_KEY = {page.key: page for page in PAGES}


def page(key: str) -> PageInfo:
    """The page whose key is `key` (KeyError for an unknown one)."""
    return _BY_KEY[key]


def url_path(info: PageInfo) -> str:
    """Where the page is served: the default page at the root, the others at their key."""
    return "" if info == DEFAULT else info.key


def path(info: PageInfo) -> Path:
    """The page's script."""
    return HERE / info.file


def by_section() -> dict[str, list[PageInfo]]:
    """Section -> its pages, both in list order (the shape `st.navigation` takes)."""
    return {section: [p for p in PAGES if p.section == section] for section in SECTIONS}
