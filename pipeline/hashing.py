"""sha256 of a file and of JSON-able settings: the two digests every identity is built from.

Both are part of stored identities (run ids, cache folders, manifests, sweep ids):
their output must never change, or old runs and caches stop matching.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes, read in chunks."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def json_sha256(data: Any, default: Callable[[Any], Any] | None = None) -> str:
    """Hex sha256 of `json.dumps(data, sort_keys=True)` with json's other defaults
    (", "/": " separators, ASCII escapes), UTF-8 encoded; `default` as in json.dumps."""
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=default).encode()).hexdigest()
