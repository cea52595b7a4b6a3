import hashlib
import re
import zipfile

import pytest

from pipeline.data.fetch import fetch_dataset
from pipeline.errors import PipelineError
from tests.imagefactory import odd_files


def _archive(path, extra=None):
    files = odd_files()
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("readme[1].txt", "Microsoft PetImages")
        for i in range(3):
            zf.writestr(f"PetImages/Cat/{i}.jpg", files["rgb.jpg"])
            zf.writestr(f"PetImages/Dog/{i}.jpg", files["gray.jpg"])
        zf.writestr("PetImages/Cat/666.jpg", b"")
        zf.writestr("PetImages/Dog/11702.jpg", files["truncated.jpg"])
        zf.writestr("PetImages/Dog/Thumbs.db", b"\x00junk")
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return path


def test_download_verifies_extracts_and_cleans_from_a_file_url(tmp_path):
    archive = _archive(tmp_path / "kagglecatsanddogs_5340.zip")
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    summary = fetch_dataset(
        url=archive.as_uri(), dest=str(tmp_path / "data"), sha256=digest, progress=lambda _: None
    )
    folder = tmp_path / "data" / "PetImages"
    assert summary["verified"] and summary["sha256"] == digest and summary["kept"] == 6
    assert sorted(p for p, _ in summary["removed"]) == [
        "Cat/666.jpg",
        "Dog/11702.jpg",
        "Dog/Thumbs.db",
    ]
    assert sorted(p.name for p in (folder / "Cat").iterdir()) == ["0.jpg", "1.jpg", "2.jpg"]
    assert not (tmp_path / "data" / "readme[1].txt").exists()
    assert (tmp_path / "data" / "kagglecatsanddogs_5340.zip.sha256").read_text().startswith(digest)


def test_checksum_mismatch_is_refused_and_nothing_extracted(tmp_path):
    archive = _archive(tmp_path / "a.zip")
    with pytest.raises(PipelineError, match="checksum mismatch"):
        fetch_dataset(
            url=archive.as_uri(), dest=str(tmp_path / "d"), sha256="0" * 64, progress=lambda _: None
        )
    assert not (tmp_path / "d" / "PetImages").exists() and not (tmp_path / "d" / "a.zip").exists()


def test_unreachable_url_and_hostile_archive_give_plain_errors(tmp_path):
    missing = (tmp_path / "missing.zip").as_uri()
    with pytest.raises(PipelineError, match=rf"^download of {re.escape(missing)} failed \(.+\)$"):
        fetch_dataset(
            url=missing,
            dest=str(tmp_path / "d"),
            progress=lambda _: None,
        )
    archive = _archive(tmp_path / "evil.zip", {"PetImages/../../escape.jpg": b"x"})
    # The whole message, not a word the member's name also contains.
    message = "archive member 'PetImages/../../escape.jpg' would escape the target folder"
    with pytest.raises(PipelineError) as raised:
        fetch_dataset(url=archive.as_uri(), dest=str(tmp_path / "e"), progress=lambda _: None)
    assert str(raised.value) == message
    assert not (tmp_path / "escape.jpg").exists()
