"""Progress: a rich bar redrawn in place on a terminal, a few plain lines in a log."""

import io
import re

from rich.console import Console as RichConsole

from pipeline import console as console_module
from pipeline.console import Console

HIDE_CURSOR, SHOW_CURSOR = "\x1b[?25l", "\x1b[?25h"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _terminal() -> RichConsole:
    """A terminal of known width without colours, writing to a string."""
    return RichConsole(force_terminal=True, file=io.StringIO(), width=120, color_system=None)


def _frames(text: str) -> list[str]:
    """Each state the bar was drawn in: rich redraws the line after `\\r` + erase-line."""
    text = text.replace(HIDE_CURSOR, "").replace(SHOW_CURSOR, "")
    return [f.strip() for f in re.split(r"\r\x1b\[2K|\n", text) if f]


def test_a_log_gets_about_ten_plain_lines():
    stream = io.StringIO()
    step = Console(stream).counter("photos", 100)
    for _ in range(100):
        step(1)
    lines = stream.getvalue().splitlines()
    assert 10 <= len(lines) <= 11 and lines[-1].startswith("  photos: 100/100 (")
    assert "\r" not in stream.getvalue()


def test_the_plain_lines_are_exactly_as_before():
    stream = io.StringIO()
    step = Console(stream).counter("photos", 2000)
    for _ in range(20):
        step(100)
    lines = stream.getvalue().splitlines()
    pattern = r"  photos: ([\d,]+)/2,000 \(\d+/s\)"
    done = [re.fullmatch(pattern, line)[1] for line in lines]
    # a line at the first step, then every tenth of the total
    assert done == ["100"] + [f"{n:,}" for n in range(200, 2001, 200)]
    assert "\x1b" not in stream.getvalue()


def test_a_terminal_gets_a_rich_bar_with_the_count_rate_and_time():
    terminal = _terminal()
    step = Console(terminal=terminal).counter("photos", 1000)
    for _ in range(10):
        step(100)
    text = terminal.file.getvalue()
    last = _frames(text)[-1]
    # label, a full bar of rich's bar glyphs, the count, the rate, the time taken
    assert re.fullmatch(r"photos ━{30} 1,000/1,000 [\d,]+/s 0:00:\d\d", last), last
    assert text.startswith(HIDE_CURSOR) and text.endswith("\n" + SHOW_CURSOR)


def test_a_message_ends_the_bars_line_and_the_bar_goes_on_below_it():
    terminal = _terminal()
    console = Console(terminal=terminal)
    step = console.counter("photos", 4)
    step(1)
    step(1)
    console("interrupting message")  # starts on a fresh line, not after the bar
    step(2)
    text = terminal.file.getvalue()
    before, after = text.split("\n" + SHOW_CURSOR + "interrupting message\n")
    assert re.search(r"photos ━+\S* +2/4 ", _frames(before)[-1])
    assert re.fullmatch(r"photos ━{30} 4/4 [\d,?]+/s 0:00:\d\d", _frames(after)[-1])
    assert text.endswith("\n" + SHOW_CURSOR)


class ExitHooks:
    """Stands in for `atexit`: the hooks now registered."""

    def __init__(self):
        self.hooks: list = []

    def register(self, hook) -> None:
        self.hooks.append(hook)

    def unregister(self, hook) -> None:
        self.hooks.remove(hook)  # ValueError if it was never registered


def test_a_bar_left_unfinished_is_closed_by_the_next_one(monkeypatch):
    exit_hooks = ExitHooks()
    monkeypatch.setattr(console_module, "atexit", exit_hooks)
    terminal = _terminal()
    console = Console(terminal=terminal)
    console.counter("Grad-CAM: models done", 4)(3)  # one model could not be explained
    assert exit_hooks.hooks == [console._close_bar]  # the cursor is shown again at exit
    console.counter("robustness: models done", 2)(2)
    frames = _frames(terminal.file.getvalue())
    assert any(f.startswith("Grad-CAM: models done") and " 3/4 " in f for f in frames)
    assert frames[-1].startswith("robustness: models done ━") and " 2/2 " in frames[-1]
    assert terminal.file.getvalue().count(SHOW_CURSOR) == 2
    assert console._bar is None and exit_hooks.hooks == []


def test_a_label_is_shown_as_written_and_an_empty_counter_is_no_error():
    terminal = _terminal()
    console = Console(terminal=terminal)
    console.counter("[bold]cnn3[/bold]: photos", 1)(1)
    console.counter("nothing to do", 0)(0)
    frames = _frames(terminal.file.getvalue())
    assert any(f.startswith("[bold]cnn3[/bold]: photos ━") for f in frames)
    assert frames[-1].startswith("nothing to do") and " 0/0 " in frames[-1]


def test_a_real_terminal_stream_gets_the_rich_bar_not_plain_lines():
    stream = Terminal()
    console = Console(stream)
    assert console.interactive and not Console(io.StringIO()).interactive
    step = console.counter("photos", 4)
    for _ in range(4):
        step(1)
    text = stream.getvalue()
    assert "━" in text and "4/4" in text and "photos: 4/4 (" not in text
    assert text.endswith("\n" + SHOW_CURSOR)
