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
from pipeline.config import INFERENCE_CHOICES
from pipeline.environment import cpu_description
from pipeline.modeling import saved_models
from pipeline.modeling.forward import engine_for
from pipeline.modeling.predict import Scorer
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


def upload_latency_ms(
    run, photo: bytes, repeats: int = 20, inference: str = "auto"
) -> tuple[list[float], list[float], dict[str, float]]:
    """Wall times (ms) after warm-up of `live.answer` (decode, resize, four predictions) and of
    the Grad-CAM maps of all models for that upload (evidence for each of the two classes),
    and each model's median time in the answers, on the engine `inference` asks for."""
    from dashboard import explain, live

    models = {n: saved_models.load(run.model_path(n)) for n in run.model_names()}
    engine = engine_for(inference, cache_dir=run.path.parent.parent / artifacts.CACHE)
    forwards = {name: Scorer(model, engine=engine).compiled() for name, model in models.items()}
    seen = live.answer(photo, forwards).seen
    explain.live(models, seen)
    answer_times, gradcam_times = [], []
    per_model: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(repeats):
        start = time.perf_counter()
        result = live.answer(photo, forwards)
        answer_times.append((time.perf_counter() - start) * 1000)
        for verdict in result.verdicts:
            per_model[verdict.name].append(verdict.latency_ms)
    for _ in range(max(3, repeats // 4)):
        start = time.perf_counter()
        explain.live(models, seen)
        gradcam_times.append((time.perf_counter() - start) * 1000)
    medians = {name: statistics.median(times) for name, times in per_model.items()}
    return answer_times, gradcam_times, medians


def main(argv: list[str] | None = None) -> None:

    parser = argparse.ArgumentParser(prog="python -m dashboard.bench", description=__doc__)
    parser.add_argument("--artifacts", default=str(artifacts_dir()))
    parser.add_argument("--photo", help="image to answer (default: a validation photo)")
    parser.add_argument(
        "--inference", choices=INFERENCE_CHOICES, default="auto", help="the answers' engine"
    )
    parser.add_argument("--no-pages", action="store_true", help="time the upload only")
    args = parser.parse_args(argv)
    os.environ[ARTIFACTS_ENV] = args.artifacts
    run = artifacts.latest_run(Path(args.artifacts))
    if run is None:
        raise SystemExit(f"no complete run in {args.artifacts}; run `make quick` first")
    from dashboard.live import sample_photos

    photo = Path(args.photo) if args.photo else sample_photos(run)[0][1]
    times, gradcam_times, per_model = upload_latency_ms(
        run, photo.read_bytes(), inference=args.inference
    )
    cpu = cpu_description()
    print(f"run {run.run_id}, photo {photo}; {cpu['cpu']} ({' '.join(cpu['cpu_flags'])})")
    print(f"engine: {engine_for(args.inference).backend} (--inference {args.inference})")
    print(
        f"one upload, all {len(run.model_names())} models: median "
        f"{statistics.median(times):.1f} ms, p90 {sorted(times)[int(0.9 * len(times))]:.1f} ms"
    )
    for name, ms in per_model.items():
        print(f"  {name}: median {ms:.1f} ms of model time")
    classes = " and ".join(run.class_names)
    print(
        f"Grad-CAM of that upload, all models, {classes}: median "
        f"{statistics.median(gradcam_times):.0f} ms"
    )
    if args.no_pages:
        return
    app = Path(__file__).resolve().parent / "app.py"
    for page, seconds in page_render_seconds(app).items():
        print(f"first render {page:<22} {seconds:6.2f} s")


if __name__ == "__main__":
    main()
