"""Real Ray clusters and real processes for the scale-out tests.

`two_node_cluster` starts a head and a second node on 127.0.0.1 with `ray start`
(one CPU each, their own temp folders, token authentication) and stops exactly
the processes it started: each node runs in its own session, and teardown
signals every process of those two sessions, nothing else.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

RAY = str(Path(sys.executable).with_name("ray"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # fields after the command name


def _all_pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def descendants(root: int) -> list[int]:
    """Every living process below `root` (children, their children, ...)."""
    parents = {}
    for pid in _all_pids():
        fields = _stat(pid)
        if fields is not None and fields[0] != "Z":
            parents[pid] = int(fields[1])
    found, frontier = [], {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier}
        found += sorted(frontier)
    return found


def find_below(root: int, needle: str) -> list[int]:
    """Processes below `root` whose command line (Ray's process title) contains `needle`."""
    return [pid for pid in descendants(root) if needle in cmdline(pid)]


def session_pids(session: int) -> list[int]:
    """Living processes of one session (field 6 of /proc/PID/stat is the session id)."""
    pids = []
    for pid in _all_pids():
        fields = _stat(pid)
        if fields is not None and fields[0] != "Z" and int(fields[3]) == session:
            pids.append(pid)
    return pids


def stop_session(session: int, grace_s: float = 10.0) -> None:
    """SIGTERM, then SIGKILL, every process of a session this test started."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in session_pids(session):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + grace_s
        while session_pids(session) and time.monotonic() < deadline:
            time.sleep(0.2)
        if not session_pids(session):
            return


@dataclass
class Node:
    process: subprocess.Popen
    log: Path

    @property
    def session(self) -> int:
        return self.process.pid  # started with start_new_session: its pid is the session id


@dataclass
class Cluster:
    address: str
    env: dict
    head: Node
    worker: Node


def _start_node(args: list[str], env: dict, log: Path) -> Node:
    with log.open("w") as sink:
        process = subprocess.Popen(
            [RAY, "start", "--block", "--disable-usage-stats", *args],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Node(process, log)


def _wait_for_nodes(address: str, env: dict, count: int, timeout: float = 120) -> None:
    probe = (
        "import ray, sys\n"
        f"ray.init(address={address!r}, logging_level='ERROR')\n"
        "print(sum(1 for n in ray.nodes() if n['Alive']))\n"
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = subprocess.run(
            [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120
        )
        if done.returncode == 0 and done.stdout.strip().splitlines()[-1:] == [str(count)]:
            return
        time.sleep(1)
    raise RuntimeError(f"the Ray cluster at {address} did not reach {count} nodes")


@contextlib.contextmanager
def two_node_cluster() -> Iterator[Cluster]:
    """A head and one more node on 127.0.0.1, one CPU each.

    Their temp folders are short paths of their own under /tmp (Ray's sockets live
    there, and a socket path may not exceed 107 bytes), removed afterwards.
    """
    folder = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))
    port = free_port()
    address = f"127.0.0.1:{port}"
    env = dict(
        os.environ,
        RAY_AUTH_MODE="token",
        RAY_AUTH_TOKEN=secrets.token_hex(32),
        TF_CPP_MIN_LOG_LEVEL="3",
    )
    nodes: list[Node] = []
    try:
        (folder / "head").mkdir(parents=True)
        (folder / "node2").mkdir(parents=True)
        common = ["--node-ip-address", "127.0.0.1", "--num-cpus", "1"]
        head_args = ["--head", "--port", str(port), "--include-dashboard", "false"]
        head_args += ["--ray-client-server-port", str(free_port()), "--temp-dir"]
        nodes.append(
            _start_node([*head_args, str(folder / "head"), *common], env, folder / "head.log")
        )
        _wait_for_nodes(address, env, 1)
        worker_args = ["--address", address, "--temp-dir", str(folder / "node2"), *common]
        nodes.append(_start_node(worker_args, env, folder / "node2.log"))
        _wait_for_nodes(address, env, 2)
        yield Cluster(address, env, nodes[0], nodes[1])
    finally:
        for node in reversed(nodes):
            stop_session(node.session)
        shutil.rmtree(folder, ignore_errors=True)
