"""What machine and code a run was made with, for its manifest."""

from __future__ import annotations

import os
import platform
from pathlib import Path

CPU_FLAGS_OF_NOTE = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "fma")


def _cpuinfo() -> tuple[str, list[str]]:
    model, flags = platform.processor() or platform.machine(), []
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return model, flags
    for line in lines:
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
        elif line.startswith("flags") and not flags:
            present = set(line.split(":", 1)[1].split())
            flags = [f for f in CPU_FLAGS_OF_NOTE if f in present]
    return model, flags


def cpu_description() -> dict:
    """The CPU model, its flags of note, and the core count: beside any time we report."""
    cpu, flags = _cpuinfo()
    return {"cpu": cpu, "cpu_flags": flags, "cpu_count": os.cpu_count()}


def environment() -> dict:
    import keras
    import tensorflow as tf

    cpu, flags = _cpuinfo()
    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "platform": platform.platform(),
        "cpu": cpu,
        "cpu_flags": flags,
        "cpu_count": os.cpu_count(),
    }


CODE_VERSION_ENV = "PETCOMPARE_CODE_VERSION"  # the driver's commit, for Ray workers


def git_commit() -> str | None:
    if os.environ.get(CODE_VERSION_ENV):
        return os.environ[CODE_VERSION_ENV]
    head = Path(__file__).resolve().parent.parent / ".git" / "HEAD"
    try:
        ref = head.read_text().strip()
        if ref.startswith("ref: "):
            return (head.parent / ref[5:]).read_text().strip()
        return ref
    except OSError:
        return None
