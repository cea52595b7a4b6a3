"""Plain progress lines on the terminal (or in a log)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable


class Console:
    """Prints one line per message; `counter` reports long work about ten times."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stdout

    def __call__(self, message: str) -> None:
        print(message, file=self.stream, flush=True)

    def counter(self, label: str, total: int) -> Callable[[int], None]:
        state = {"done": 0, "next": 0, "start": time.perf_counter()}

        def step(n: int) -> None:
            state["done"] += n
            if state["done"] >= state["next"] or state["done"] >= total:
                rate = state["done"] / max(1e-9, time.perf_counter() - state["start"])
                self(f"  {label}: {state['done']:,}/{total:,} ({rate:.0f}/s)")
                state["next"] += max(1, total // 10)

        return step
