"""`python -m dashboard.loadbench`: what a person waits for on Live compare, measured in a
real Chromium against a real `streamlit run` server.

The time of one upload runs from handing the file to the page's uploader until that
photo's answer (the models' vote) is on screen. Scenarios: one session uploading
photos one after the other, then several sessions uploading at the same time.
Prints medians and p90s with the machine's CPU, and the server's peak memory. After the
timed rounds, each session's answers are checked against its own photos' rows of the run's
predictions.csv (the pipeline's evaluation of the same pixels): a session shown another
session's answers, or a wrong one, exits with status 1.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path

from dashboard.server import CHROMIUM_FLAGS, chromium, dashboard, rss_mb
from dashboard.settings import artifacts_dir, label
from pipeline.environment import environment
from pipeline.store import artifacts

# How many vote lines ("… models say …") a page shows: one per answered photo.
ANSWERS_JS = """() => Array.from(document.querySelectorAll('[data-testid="stMarkdownContainer"]'))
    .filter(e => e.innerText.includes('models say')).length"""
UPLOADER = "[data-testid='stFileUploader']"
# Every static table on a page, in page order: rows of cell texts, the header row first.
TABLES_JS = """() => Array.from(document.querySelectorAll('[data-testid="stTable"] table'))
    .map(t => Array.from(t.querySelectorAll('tr'))
        .map(r => Array.from(r.querySelectorAll('th, td')).map(c => c.innerText.trim())))"""


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


class MemoryWatch:
    """Samples a process's resident memory in the background; `peak` in MB."""

    def __init__(self, pid: int, every_s: float = 0.2):
        self.pid, self.every_s, self.peak = pid, every_s, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb(self.pid))
            self._stop.wait(self.every_s)

    def __enter__(self) -> MemoryWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def _open_pages(browser, url: str, n: int) -> list:
    pages = []
    for _ in range(n):
        page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        page.goto(f"{url}/live")
        page.wait_for_selector(UPLOADER, state="visible", timeout=120_000)
        pages.append(page)
    return pages


def upload_rounds(
    pages: list,
    photos: Callable[[int, int], Path],
    rounds: int,
    pause_s: float = 0.0,
    timeout_s: float = 180,
) -> list[float]:
    """Each round, every page uploads one more photo at once; seconds until each answer shows.

    `pause_s` between rounds stands for the person looking at the answer before choosing
    the next photo (a file dialog takes longer than that).
    """
    waits: list[float] = []
    for round_ in range(rounds):
        if round_:
            time.sleep(pause_s)
        started = {}
        for number, page in enumerate(pages):
            started[number] = time.perf_counter()
            page.locator("input[type='file']").set_input_files(str(photos(number, round_)))
        pending = set(started)
        deadline = time.monotonic() + timeout_s
        while pending:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(pending)} upload(s) unanswered after {timeout_s}s")
            for number in sorted(pending):
                page = pages[number]
                if page.locator("[data-testid='stException']").count():
                    raise RuntimeError("the page shows an exception")
                if page.evaluate(ANSWERS_JS) >= round_ + 1:
                    waits.append(time.perf_counter() - started[number])
                    pending.discard(number)
            time.sleep(0.01)
    return waits


def answers_shown(page) -> list[dict[str, dict[str, str]]]:
    """Live compare's answer tables on `page`, in upload order: model label -> column -> text."""
    answers = []
    for header, *rows in (t for t in page.evaluate(TABLES_JS) if t):
        if "verdict" in header:
            answers.append({row[0]: dict(zip(header[1:], row[1:], strict=True)) for row in rows})
    return answers


def _all_answers(page, count: int, timeout_s: float = 60) -> list[dict[str, dict[str, str]]]:
    """The page's answer tables once all `count` are drawn (a vote shows before its table)."""
    deadline = time.monotonic() + timeout_s
    while len(found := answers_shown(page)) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(found)} of {count} answer tables drawn after {timeout_s}s")
        time.sleep(0.1)
    return found


def scenario(
    browser,
    url: str,
    sessions: int,
    rounds: int,
    photos,
    pause_s: float = 0.0,
    shown: dict[int, list] | None = None,
) -> list[float]:
    """Seconds each upload waited. With `shown`, also what each session's page showed:
    session number -> its answer tables (`answers_shown`), one per round in order."""
    pages = _open_pages(browser, url, sessions)
    try:
        waits = upload_rounds(pages, photos, rounds, pause_s=pause_s)
        if shown is not None:
            for number, page in enumerate(pages):
                shown[number] = _all_answers(page, rounds)
        return waits
    finally:
        for page in pages:
            page.context.close()


def photo_picker(run) -> Callable[[int, int], Path]:
    """A different validation photo for every (session, round)."""
    split = run.split()
    root = Path(run.manifest["dataset"]["root"])
    paths = [root / p for p in split[split.split == "val"].path if (root / p).is_file()]
    if len(paths) < 64:
        raise SystemExit(f"the run's photos are not at {root}: the benchmark uploads them")
    return lambda session, round_: paths[(session * 7 + round_ * 61) % len(paths)]


# A shown P(positive) has three decimals; the evaluation's own may differ in float noise.
SHOWN_TOLERANCE = 5e-4 + 1e-5


def recorded_answers(run) -> dict[str, dict[str, float]]:
    """photo path -> {model label: P(positive)} from the run's predictions.csv files."""

    found: dict[str, dict[str, float]] = {}
    root = Path(run.manifest["dataset"]["root"])
    for name in run.model_names():
        for path, p in run.predictions(name)[["path", "p_dog"]].values:
            found.setdefault(str(root / path), {})[label(name)] = float(p)
    return found


def wrong_answers(
    shown: dict[int, list], *, photos: Callable[[int, int], Path], expected: dict, positive: str
) -> list[str]:
    """Each (session, upload) whose answer table is not its own photo's recorded answers."""
    wrong = []
    for session, tables in shown.items():
        for round_, table in enumerate(tables):
            want = expected[str(photos(session, round_))]
            got = {model: float(row[f"P({positive})"]) for model, row in table.items()}
            if set(got) != set(want) or any(abs(got[m] - want[m]) > SHOWN_TOLERANCE for m in want):
                wrong.append(f"session {session}, upload {round_ + 1}: {got} (its photo: {want})")
    return wrong


def _report(name: str, waits: list[float], peak_mb: float) -> None:
    ms = [w * 1000 for w in waits]
    print(
        f"{name}: {len(ms)} uploads, median {statistics.median(ms):,.0f} ms, "
        f"p90 {_percentile(ms, 0.9):,.0f} ms, max {max(ms):,.0f} ms; "
        f"server peak memory {peak_mb:,.0f} MB"
    )


def main(argv: list[str] | None = None) -> dict:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(prog="python -m dashboard.loadbench", description=__doc__)
    parser.add_argument("--artifacts", default=str(artifacts_dir()))
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--uploads", type=int, default=3, help="per session, concurrent case")
    parser.add_argument("--single", type=int, default=5, help="uploads of the one-session case")
    parser.add_argument(
        "--pause", type=float, default=1.0, help="seconds between one answer and the next upload"
    )
    parser.add_argument(
        "--app", type=Path, help="another checkout's dashboard/app.py, to compare versions"
    )
    args = parser.parse_args(argv)
    run = artifacts.latest_run(Path(args.artifacts))
    if run is None:
        raise SystemExit(f"no complete run in {args.artifacts}; run `make quick` first")
    env = environment()
    print(f"CPU: {env['cpu']} ({env['cpu_count']} cores; flags {' '.join(env['cpu_flags'])})")
    print(
        f"run {run.run_id}; browser and server share this machine; {args.pause:g} s between "
        "an answer and that session's next upload"
    )
    photos = photo_picker(run)
    results = {}
    server = dashboard(args.artifacts, args.app) if args.app else dashboard(args.artifacts)
    with server as (url, pid), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_FLAGS)
        with MemoryWatch(pid) as memory:
            warm = scenario(browser, url, 1, rounds=1, photos=lambda s, r: photos(99, 99))
            print(f"warm-up (loads the models): {warm[0] * 1000:,.0f} ms")
            results["one session"] = scenario(
                browser, url, 1, rounds=args.single, photos=photos, pause_s=args.pause
            )
            _report("one session, one photo after another", results["one session"], memory.peak)
            name = f"{args.sessions} sessions at once"
            shown: dict[int, list] = {}
            results[name] = scenario(
                browser,
                url,
                args.sessions,
                rounds=args.uploads,
                photos=photos,
                pause_s=args.pause,
                shown=shown,
            )
            _report(f"{name}, {args.uploads} photos each", results[name], memory.peak)
        browser.close()
    wrong = wrong_answers(
        shown, photos=photos, expected=recorded_answers(run), positive=run.class_names[1]
    )
    checked = sum(len(tables) for tables in shown.values())
    if wrong:
        print(f"{len(wrong)} of {checked} answers are not their own photo's:", *wrong, sep="\n  ")
        raise SystemExit(1)
    print(f"answers: all {checked} uploads of the {len(shown)} sessions showed their own photo's")
    return results


if __name__ == "__main__":
    main()
