"""`python -m dashboard.bench`: time to first render of each page, and one upload answered
by all four models after warm-up. Reads the latest run under the artifacts folder."""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from dashboard import pages
from dashboard.settings import ARTIFACTS_ENV, artifacts_dir
from pipeline.modeling import saved_models
from pipeline.store import artifacts


def page_render_seconds(app: Path) -> dict[str, float]:
    """Seconds for the first full script run of each page in a fresh AppTest."""
    from streamlit.testing.v1 import AppTest

    times = {}
    for page in (p.file for p in pages.PAGES):
        at = AppTest.from_file(str(app), default_timeout=300)
        at.run()
        start = time.perf_counter()
        at.switch_page(page)
        at.run()
        times[page] = time.perf_counter() - start
        if at.exception:
            raise SystemExit(f"{page} raised: {at.exception}")
    return times


def upload_latency_ms(run, photo: bytes, repeats: int = 20) -> tuple[list[float], list[float]]:
    """Wall times (ms) after warm-up of `live.answer` (decode, resize, four predictions) and of
    the Grad-CAM maps of all models for that upload (evidence for each of the two classes)."""
    from dashboard import explain, live

    models = {n: saved_models.load(run.model_path(n)) for n in run.model_names()}
    seen = live.answer(photo, models).seen
    explain.live(models, seen)
    answer_times, gradcam_times = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        live.answer(photo, models)
        answer_times.append((time.perf_counter() - start) * 1000)
    for _ in range(max(3, repeats // 4)):
        start = time.perf_counter()
        explain.live(models, seen)
        gradcam_times.append((time.perf_counter() - start) * 1000)
    return answer_times, gradcam_times


def main(argv: list[str] | None = None) -> None:

    parser = argparse.ArgumentParser(prog="python -m dashboard.bench", description=__doc__)
    parser.add_argument("--artifacts", default=str(artifacts_dir()))
    parser.add_argument("--photo", help="image to answer (default: a validation photo)")
    args = parser.parse_args(argv)
    os.environ[ARTIFACTS_ENV] = args.artifacts
    run = artifacts.latest_run(Path(args.artifacts))
    if run is None:
        raise SystemExit(f"no complete run in {args.artifacts}; run `make quick` first")
    from dashboard.live import sample_photos

    photo = Path(args.photo) if args.photo else sample_photos(run)[0][1]
    times, gradcam_times = upload_latency_ms(run, photo.read_bytes())
    print(f"run {run.run_id}, photo {photo}")
    print(
        f"one upload, all {len(run.model_names())} models: median "
        f"{statistics.median(times):.1f} ms, p90 {sorted(times)[int(0.9 * len(times))]:.1f} ms"
    )
    classes = " and ".join(run.class_names)
    print(
        f"Grad-CAM of that upload, all models, {classes}: median "
        f"{statistics.median(gradcam_times):.0f} ms"
    )
    app = Path(__file__).resolve().parent / "app.py"
    for page, seconds in page_render_seconds(app).items():
        print(f"first render {page:<22} {seconds:6.2f} s")


if __name__ == "__main__":
    main()
