"""A real `streamlit run` of the dashboard on 127.0.0.1, and Debian's Chromium to drive it.

Shared by the browser tests and the load benchmark, so both measure the same thing.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ENV = "PETCOMPARE_CHROMIUM"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


# The settings of .streamlit/config.toml that make the dashboard fast, as flags, for a
# server started from anywhere (an installed `petcompare dashboard` has no config file).
SERVE_OPTIONS = [
    "--runner.postScriptGC=false",
    "--runner.magicEnabled=false",
    "--server.maxUploadSize=20",
    "--browser.gatherUsageStats=false",
]


def streamlit_argv(app: Path, port: int, address: str = "127.0.0.1") -> list[str]:
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app),
        "--server.headless=true",
        f"--server.port={port}",
        f"--server.address={address}",
        *SERVE_OPTIONS,
    ]


def chromium() -> str:
    """Debian's Chromium (browser downloads do not work offline); `make browser` installs it.

    PETCOMPARE_CHROMIUM names another executable.
    """
    path = os.environ.get(CHROMIUM_ENV) or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        raise RuntimeError(f"Chromium not found at {path}; run `make browser`")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, log, startup_s: float) -> None:
    deadline = time.monotonic() + startup_s
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                log.seek(0)
                output = log.read().decode(errors="replace")
                raise RuntimeError(f"streamlit did not start: {output}") from None
            time.sleep(0.5)


@contextmanager
def dashboard(
    artifacts: str | Path, app: Path = ROOT / "dashboard" / "app.py", startup_s: float = 90
) -> Iterator[tuple[str, int]]:
    """(url, server pid) of a dashboard serving `artifacts`, stopped on exit.

    `app` may be another checkout's entry script, to compare versions in one session.
    """
    port = free_port()
    env = dict(os.environ, PETCOMPARE_ARTIFACTS=str(artifacts))
    argv = streamlit_argv(app, port)
    # The server's output goes to a file, not a pipe: a chatty server must never block.
    with tempfile.TemporaryFile() as log:
        cwd = Path(app).resolve().parent.parent
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_healthy(url, proc, log, startup_s=startup_s)
            yield url, proc.pid
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def rss_mb(pid: int) -> float:
    """Resident memory of a process, from /proc (0 where unavailable)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0
