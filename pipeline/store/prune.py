"""`python -m pipeline cache [--prune]`: what the caches hold, and dropping what no run uses."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from pipeline.console import Console
from pipeline.errors import plain_os_errors
from pipeline.store import artifacts
from pipeline.store.cache import PruneReport, prune
from pipeline.store.lock import WriterLock


def used_entries(out_dir: Path) -> dict[str, set[str]]:
    """store folder -> photo hashes some run of `out_dir` read from it."""
    used: dict[str, set[str]] = defaultdict(set)
    for run in artifacts.list_runs(out_dir):
        stores = run.manifest.get("caches") or []
        if not stores:
            continue
        try:
            hashes = set(run.split()["sha256"].dropna())
        except (OSError, KeyError, ValueError):
            continue
        for store in stores:
            used[store] |= hashes
    return dict(used)


def cache_size(out_dir: Path) -> int:
    root = Path(out_dir) / artifacts.CACHE
    return sum(f.stat().st_size for f in root.rglob("*") if f.is_file()) if root.is_dir() else 0


def prune_cache(
    out_dir: Path, dry_run: bool = False, wait: bool = True, log: Console | None = None
) -> PruneReport:
    """Delete cached rows no run in `out_dir` uses, under the writer lock."""
    log = log or Console()
    out_dir = Path(out_dir)
    with plain_os_errors(out_dir), WriterLock(out_dir, "cache --prune", wait, log=log):
        return prune(out_dir / artifacts.CACHE, used_entries(out_dir), dry_run)
