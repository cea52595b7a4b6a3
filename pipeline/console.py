"""Progress on the terminal: a live rich bar when attached to one, plain lines in a log."""

from __future__ import annotations

import atexit
import sys
import time
from collections.abc import Callable

from rich.console import Console as RichConsole
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TextColumn, TimeRemainingColumn
from rich.text import Text

BAR_WIDTH = 30
# A bar is redrawn at most this often (and always when it completes).
REDRAW_S = 0.1


class RateColumn(ProgressColumn):
    """Items per second: rich's recent-speed estimate, else the average so far."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        if speed is None and task.elapsed:
            speed = task.completed / task.elapsed
        return Text(f"{speed:,.0f}/s" if speed else "?/s", style="progress.data.speed")


def _progress(terminal: RichConsole) -> Progress:
    """`  label ━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━ 300/1,000 120/s 0:00:06` (time left; the time
    taken once done). Drawn on demand, so no thread and no redirected stdout."""
    return Progress(
        TextColumn("  {task.description}", markup=False),
        BarColumn(bar_width=BAR_WIDTH),
        TextColumn("{task.completed:,.0f}/{task.total:,.0f}"),
        RateColumn(),
        TimeRemainingColumn(elapsed_when_finished=True),
        console=terminal,
        auto_refresh=False,
        redirect_stdout=False,
        redirect_stderr=False,
    )


class _Bar:
    """One counter's bar; drawn again below any message that interrupted it."""

    def __init__(self, terminal: RichConsole, label: str, total: int):
        self.terminal = terminal
        self.progress = _progress(terminal)
        self.task = self.progress.add_task(label, total=total)
        self.shown = False  # on screen once already
        self.drawn = 0.0

    def show(self, done: int) -> None:
        now = time.monotonic()
        if self.progress.live.is_started:
            self.progress.update(self.task, completed=done)
            if now - self.drawn >= REDRAW_S:
                self.progress.refresh()
                self.drawn = now
            return
        if self.shown:  # interrupted by a message: a fresh display that carries on the count
            old = self.progress.tasks[0]
            self.progress = _progress(self.terminal)
            self.task = self.progress.add_task(old.description, total=old.total)
            self.progress.tasks[0].start_time = old.start_time
        self.progress.update(self.task, completed=done)
        self.progress.start()  # draws
        self.shown, self.drawn = True, now

    def close(self) -> None:
        self.progress.stop()  # the last state stays on screen, with the cursor after it


class Console:
    """One line per message. `counter` shows long work as a rich progress bar on a
    terminal, and as about ten plain lines in a log (where a bar would be noise).

    `terminal`: the rich console to draw bars on (tests pass one writing to a string);
    by default one is made for `stream` when it is a terminal.
    """

    def __init__(self, stream=None, terminal: RichConsole | None = None):
        self.stream = stream or (terminal.file if terminal is not None else sys.stdout)
        self._terminal = terminal
        self._bar: _Bar | None = None  # the bar now on screen

    @property
    def interactive(self) -> bool:
        if self._terminal is not None:
            return True
        return bool(getattr(self.stream, "isatty", lambda: False)())

    def _rich(self) -> RichConsole:
        if self._terminal is None:
            self._terminal = RichConsole(file=self.stream)
        return self._terminal

    def _close_bar(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
            atexit.unregister(self._close_bar)

    def __call__(self, message: str) -> None:
        self._close_bar()  # a bar's line is finished before the message
        print(message, file=self.stream, flush=True)

    def counter(self, label: str, total: int) -> Callable[[int], None]:
        """A function to call with each amount of `total` done."""
        state = {"done": 0, "next": 0, "start": time.perf_counter()}
        bar = _Bar(self._rich(), label, total) if self.interactive else None

        def step(n: int) -> None:
            state["done"] += n
            done = state["done"]
            if bar is not None:
                if self._bar is not bar:
                    self._close_bar()
                    self._bar = bar
                    atexit.register(self._close_bar)  # never leave the cursor hidden
                bar.show(done)
                if done >= total:
                    self._close_bar()
                return
            if done >= state["next"] or done >= total:
                rate = done / max(1e-9, time.perf_counter() - state["start"])
                self(f"  {label}: {done:,}/{total:,} ({rate:.0f}/s)")
                state["next"] += max(1, total // 10)

        return step
