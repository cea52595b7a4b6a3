"""`fetch-data`: download, verify, extract and clean the Microsoft PetImages archive."""

from __future__ import annotations

import hashlib
import shutil
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath

from pipeline.config import PROJECT_ROOT
from pipeline.data.dataset import inspect_file
from pipeline.errors import PipelineError

MICROSOFT_URL = (
    "https://download.microsoft.com/download/3/E/1/"
    "3E1C3F21-ECDB-4869-8368-6DEBA77B919F/kagglecatsanddogs_5340.zip"
)
# The archive's official checksum is not published by Microsoft; this project
# could not download it to compute one. Pass --sha256 to pin the one you trust;
# the computed checksum is always printed and written next to the archive.
MICROSOFT_SHA256: str | None = None
DATA_FOLDER = "PetImages"
CHUNK = 1 << 20


def download(url: str, target: Path, progress=print) -> str:
    """Stream `url` to `target` (via a .part file); returns the sha256 of what arrived."""
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    digest = hashlib.sha256()
    try:
        with (
            urllib.request.urlopen(url, timeout=60) as response,
            open(part, "wb") as out,
        ):
            total = int(response.headers.get("Content-Length") or 0)
            done, shown = 0, -1
            while chunk := response.read(CHUNK):
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if total and (pct := done * 100 // total) // 10 != shown:
                    shown = pct // 10
                    progress(f"  downloaded {done / 1e6:,.1f} / {total / 1e6:,.1f} MB ({pct}%)")
    except OSError as err:
        part.unlink(missing_ok=True)
        raise PipelineError(f"download of {url} failed ({err})") from None
    part.replace(target)
    return digest.hexdigest()


def safe_members(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """Members under PetImages/, refusing absolute paths and '..' tricks."""
    members = []
    for info in archive.infolist():
        path = PurePosixPath(info.filename)
        if path.is_absolute() or ".." in path.parts:
            raise PipelineError(f"archive member {info.filename!r} would escape the target folder")
        if path.parts and path.parts[0] == DATA_FOLDER and not info.is_dir():
            members.append(info)
    if not members:
        raise PipelineError(f"the archive holds no {DATA_FOLDER}/ folder")
    return members


def extract(archive_path: Path, dest: Path) -> Path:
    """Extract PetImages/ into `dest` in one rename; returns its path."""
    final = dest / DATA_FOLDER
    stage = dest / f".{DATA_FOLDER}.partial"
    if stage.exists():
        shutil.rmtree(stage)
    try:
        with zipfile.ZipFile(archive_path) as archive:
            for info in safe_members(archive):
                archive.extract(info, stage)
    except zipfile.BadZipFile as err:
        raise PipelineError(f"{archive_path} is not a valid zip archive ({err})") from None
    if final.exists():
        shutil.rmtree(final)
    (stage / DATA_FOLDER).replace(final)
    shutil.rmtree(stage)
    return final


def clean(folder: Path) -> list[tuple[str, str]]:
    """Delete files no model can read (empty, corrupt, not images); returns (path, reason)."""
    removed = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        verdict = inspect_file(path)
        if verdict and verdict.startswith("skip"):
            removed.append((path.relative_to(folder).as_posix(), verdict[len("skip: ") :]))
            path.unlink()
    return removed


def fetch_dataset(
    url: str | None = None,
    dest: str | None = None,
    sha256: str | None = None,
    progress=print,
) -> dict:
    """Download, verify, extract and clean; returns a summary."""
    url = url or MICROSOFT_URL
    dest_dir = Path(dest) if dest else PROJECT_ROOT / "data"
    expected = (sha256 or MICROSOFT_SHA256 or "").lower() or None
    archive = dest_dir / PurePosixPath(url).name
    progress(f"Downloading {url}")
    actual = download(url, archive, progress)
    (archive.with_name(archive.name + ".sha256")).write_text(f"{actual}  {archive.name}\n")
    progress(f"  sha256 {actual}")
    if expected and actual != expected:
        archive.unlink()
        raise PipelineError(f"checksum mismatch for {url}: expected {expected}, got {actual}")
    progress(f"Extracting into {dest_dir / DATA_FOLDER}")
    folder = extract(archive, dest_dir)
    removed = clean(folder)
    for path, reason in removed:
        progress(f"  removed {path}: {reason}")
    kept = sum(1 for p in folder.rglob("*") if p.is_file())
    progress(f"Done: {kept:,} images kept, {len(removed):,} removed, in {folder}")
    return {
        "folder": str(folder),
        "sha256": actual,
        "verified": bool(expected),
        "kept": kept,
        "removed": removed,
    }
