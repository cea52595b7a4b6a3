"""`python -m dashboard.mapbench`: how long the Map of the photos takes to draw in a real
Chromium against a real `streamlit run` server, for the latest run under an artifacts folder.

One sample runs from navigating to the page until every photo's point is on the WebGL map
(the figure's traces hold as many points as the run has photos). The first sample includes
the server reading the map; the others reuse its cache, as a second visitor would. Prints
each sample, the median, the number of photos and the machine's CPU.
"""

from __future__ import annotations

import argparse
import statistics
import time

from dashboard.server import CHROMIUM_FLAGS, chromium, dashboard
from dashboard.settings import artifacts_dir
from pipeline.environment import cpu_description
from pipeline.store import artifacts

# Points drawn on the page's map, 0 until Plotly has drawn it.
POINTS_JS = """() => {
    const plot = document.querySelector('.js-plotly-plot');
    if (!plot || !plot._fullData || !plot.querySelector('canvas')) return 0;
    return plot._fullData.reduce((n, t) => n + (t.x ? t.x.length : 0), 0);
}"""


def draw_seconds(page, url: str, photos: int, timeout_s: float = 300) -> float:
    """Seconds from navigating to `url` until the map holds `photos` points."""
    start = time.perf_counter()
    page.goto(url)
    page.wait_for_function(f"() => ({POINTS_JS})() >= {photos}", timeout=timeout_s * 1000)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m dashboard.mapbench", description=__doc__)
    parser.add_argument("--artifacts", default=str(artifacts_dir()))
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    run = artifacts.latest_run(args.artifacts)
    if run is None or not (run.path / artifacts.PHOTO_MAP).is_file():
        raise SystemExit(f"no run with a map of its photos under {args.artifacts}")
    photos = len(run.split())
    from playwright.sync_api import sync_playwright

    with dashboard(args.artifacts) as (url, _), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_FLAGS)
        page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        times = [draw_seconds(page, f"{url}/map", photos) for _ in range(args.repeats)]
        browser.close()
    cpu = cpu_description()
    print(f"run {run.run_id}: {photos:,} photos on the map")
    print("time to first draw (s): " + ", ".join(f"{t:.1f}" for t in times))
    print(f"median {statistics.median(times):.1f} s (first visit {times[0]:.1f} s)")
    print(f"machine: {cpu['cpu']}, {cpu['cpu_count']} cores, flags {' '.join(cpu['cpu_flags'])}")


if __name__ == "__main__":
    main()
