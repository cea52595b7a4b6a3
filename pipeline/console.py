"""Progress on the terminal: a live bar when attached to one, plain lines in a log."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

BAR_WIDTH = 30


def bar(label: str, done: int, total: int, rate: float) -> str:
    """`  label [#########.........] 300/1,000 (120/s, 6 s left)`."""
    share = min(1.0, done / total) if total else 1.0
    filled = int(round(share * BAR_WIDTH))
    left = (total - done) / rate if rate > 0 and done < total else 0.0
    return (
        f"  {label} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done:,}/{total:,} "
        f"({rate:.0f}/s, {left:.0f} s left)"
    )


class Console:
    """One line per message. `counter` shows long work as a bar redrawn in place on a
    terminal, and as about ten lines in a log (where a bar would be noise)."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stdout
        self._open_bar = False

    @property
    def interactive(self) -> bool:
        return bool(getattr(self.stream, "isatty", lambda: False)())

    def __call__(self, message: str) -> None:
        if self._open_bar:  # finish the bar's line first
            print(file=self.stream)
            self._open_bar = False
        print(message, file=self.stream, flush=True)

    def counter(self, label: str, total: int) -> Callable[[int], None]:
        state = {"done": 0, "next": 0, "start": time.perf_counter()}

        def step(n: int) -> None:
            state["done"] += n
            done = state["done"]
            rate = done / max(1e-9, time.perf_counter() - state["start"])
            if self.interactive:
                print("\r" + bar(label, done, total, rate), end="", file=self.stream, flush=True)
                self._open_bar = done < total
                if done >= total:
                    print(file=self.stream, flush=True)
            elif done >= state["next"] or done >= total:
                self(f"  {label}: {done:,}/{total:,} ({rate:.0f}/s)")
                state["next"] += max(1, total // 10)

        return step
