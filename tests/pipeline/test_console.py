"""Progress: a bar redrawn in place on a terminal, a few plain lines in a log."""

import io

from pipeline.console import Console, bar


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_log_gets_about_ten_plain_lines():
    stream = io.StringIO()
    step = Console(stream).counter("photos", 100)
    for _ in range(100):
        step(1)
    lines = stream.getvalue().splitlines()
    assert 10 <= len(lines) <= 11 and lines[-1].startswith("  photos: 100/100 (")
    assert "\r" not in stream.getvalue()


def test_a_terminal_gets_one_bar_redrawn_in_place_then_a_clean_next_line():
    stream = Terminal()
    console = Console(stream)
    step = console.counter("photos", 4)
    step(1)
    step(1)
    console("interrupting message")  # starts on a fresh line, not after the bar
    step(2)
    text = stream.getvalue()
    assert text.count("\r") == 3
    assert "\ninterrupting message\n" in text and text.endswith("4/4 (" + text.split("4/4 (")[-1])
    assert text.endswith("\n")


def test_the_bar_shows_share_done_and_time_left():
    assert bar("x", 15, 30, 5.0) == ("  x [" + "#" * 15 + "." * 15 + "] 15/30 (5/s, 3 s left)")
