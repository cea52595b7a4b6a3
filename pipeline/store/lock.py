"""One writer per artifacts folder.

`train`, `evaluate`, `analyze` and `cache --prune` hold an exclusive lock on
`<artifacts>/.lock` (flock through `filelock`, released by the kernel when the
holder dies, even by SIGKILL). A second writer waits and says for whom, or,
with `--no-wait`, stops at once with a clear error.
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
import socket
import sys
from collections.abc import Callable
from pathlib import Path

from filelock import FileLock, Timeout

from pipeline.errors import PipelineError

LOCK_FILE = ".lock"
HOLDER_FILE = ".lock-holder.json"
# How often a waiting process says it is still waiting.
REMIND_EVERY_S = 60.0


def writable_folder(folder: Path) -> Path:
    """Create `folder` if needed, or explain in plain words why it cannot be written."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        why = {
            errno.EROFS: "it is on a read-only file system",
            errno.EACCES: "permission denied",
            errno.EPERM: "permission denied",
            errno.ENOSPC: "the disk is full",
        }.get(err.errno, err.strerror or str(err))
        raise PipelineError(
            f"cannot write to the artifacts folder {folder}: {why}. "
            "Choose another folder with --out."
        ) from None
    return folder


def holder(folder: Path) -> dict | None:
    """Who holds the folder's writer lock now (command, pid, host, started, run), if anyone
    alive on this host does."""
    try:
        info = json.loads((Path(folder) / HOLDER_FILE).read_text())
    except (OSError, ValueError):
        return None
    if info.get("host") == socket.gethostname():
        try:
            os.kill(int(info.get("pid", -1)), 0)
        except ProcessLookupError:
            return None  # a holder killed before it could tidy up
        except (PermissionError, ValueError, OverflowError):
            pass
    return info


def _holder(folder: Path) -> str:
    info = holder(folder)
    if info is None:
        return "another process"
    return (
        f"`{info.get('command', '?')}` (pid {info.get('pid', '?')} on {info.get('host', '?')}, "
        f"since {info.get('started', '?')})"
    )


class WriterLock:
    """Context manager holding the artifacts folder's writer lock."""

    def __init__(
        self,
        folder: Path,
        command: str,
        wait: bool = True,
        log: Callable[[str], None] | None = None,
    ):
        self.folder = Path(folder)
        self.command = command
        self.wait = wait
        self.log = log or (lambda message: print(message, file=sys.stderr, flush=True))
        self._lock: FileLock | None = None
        self._details: dict = {}

    def __enter__(self) -> WriterLock:
        writable_folder(self.folder)
        self._lock = FileLock(self.folder / LOCK_FILE, thread_local=False)
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            holder = _holder(self.folder)
            if not self.wait:
                raise PipelineError(
                    f"{self.folder} is in use by {holder}; it allows one writer at a time. "
                    "Run again when it has finished (without --no-wait, this command waits)."
                ) from None
            self.log(f"Waiting for {holder} to finish with {self.folder} ...")
            while True:
                try:
                    self._lock.acquire(timeout=REMIND_EVERY_S)
                    break
                except Timeout:
                    self.log(f"  still waiting for {_holder(self.folder)}")
        self._write_holder()
        return self

    def describe(self, **details) -> None:
        """Add what the holder is working on (e.g. run=<id>) to what others see."""
        self._details.update(details)
        self._write_holder()

    def _write_holder(self) -> None:
        info = {
            "command": self.command,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": self._details.get("started")
            or dt.datetime.now().isoformat(timespec="seconds"),
        } | self._details
        self._details.setdefault("started", info["started"])
        tmp = self.folder / f".{HOLDER_FILE}.{os.getpid()}"
        tmp.write_text(json.dumps(info))
        os.replace(tmp, self.folder / HOLDER_FILE)

    def __exit__(self, *exc) -> None:
        try:
            (self.folder / HOLDER_FILE).unlink(missing_ok=True)
        finally:
            self._lock.release()
