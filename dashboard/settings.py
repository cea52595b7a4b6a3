"""Dashboard settings, read from the environment in one place."""

from __future__ import annotations

import os
from pathlib import Path

from pipeline.config import DEFAULT_OUT
from pipeline.registry import spec

ARTIFACTS_ENV = "PETCOMPARE_ARTIFACTS"
# Uploads larger than this are refused (Streamlit's own limit, maxUploadSize in
# .streamlit/config.toml, is the same 20 MB of 2**20 bytes).
MAX_UPLOAD_BYTES = 20 * 2**20
# One rerun answers at most this many uploaded photos, and this many pixels in all.
MAX_BATCH_FILES = 8
MAX_BATCH_PIXELS = 120_000_000


def megabytes(n_bytes: int) -> str:
    """Sizes as the uploader states its limit: MB of 2**20 bytes."""
    return f"{n_bytes / 2**20:.1f} MB" if n_bytes % 2**20 else f"{n_bytes // 2**20} MB"


def artifacts_dir() -> Path:
    return Path(os.environ.get(ARTIFACTS_ENV, str(DEFAULT_OUT)))


def label(name: str) -> str:
    return spec(name).label
