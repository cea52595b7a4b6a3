"""Named crash points for the crash tests: a real SIGKILL of this process at a write point.

Set `PETCOMPARE_CRASH_AT=name` (or `name:N` for its N-th passage) in a subprocess
and it kills itself with SIGKILL there, with no chance to clean up, as a power
cut or the OOM killer would. Unset, a point costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

ENV = "PETCOMPARE_CRASH_AT"
_passages: dict[str, int] = {}


def point(name: str) -> None:
    wanted = os.environ.get(ENV)
    if not wanted:
        return
    target, _, nth = wanted.partition(":")
    if target != name:
        return
    _passages[name] = _passages.get(name, 0) + 1
    if _passages[name] >= int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
