"""Every `--flag` a message of the pipeline names is one the command line really has."""

from __future__ import annotations

import argparse
import ast
import re
from pathlib import Path

PIPELINE = Path(__file__).resolve().parents[2] / "pipeline"
# A long option: `--` and hyphen-separated lower-case words (`--data-dir`, `--ray`).
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9]*(?:-[a-z0-9]+)*(?![\w-])")
# Other programs' command lines quoted in messages: their flags are theirs, not ours.
FOREIGN = ("ray start --head",)


def named_flags(source: str) -> list[tuple[int, str]]:
    """(line, flag) for each flag in the module's string constants, f-string parts included."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
            for command in FOREIGN:
                text = text.replace(command, "")
            found += [
                (node.lineno, node.col_offset, match.start(), match.group())
                for match in FLAG.finditer(text)
            ]
    return [(line, flag) for line, *_, flag in sorted(found)]  # in reading order


def cli_options(parser: argparse.ArgumentParser) -> set[str]:
    """Option strings of `parser` and of every subparser below it, however deep."""
    options: set[str] = set()
    pending, seen = [parser], set()
    while pending:
        current = pending.pop()
        if id(current) in seen:  # one parser may be reachable under several names (aliases)
            continue
        seen.add(id(current))
        for action in current._actions:
            options.update(action.option_strings)
            if isinstance(action, argparse._SubParsersAction):
                pending.extend(action.choices.values())
    return options


def test_named_flags_reads_plain_strings_f_strings_and_docstrings():
    source = '''
"""Run `python -m pipeline train --fresh`."""
x = f"--batch-size {n} does not split; try --no-wait or {flag!r}"
y = "a---b, --, x--y, --Upper, -v, `ray start --head`; --data-dir."
'''
    assert named_flags(source) == [
        (2, "--fresh"),
        (3, "--batch-size"),
        (3, "--no-wait"),
        (4, "--data-dir"),
    ]


def test_cli_options_gathers_every_level_of_subparsers():
    root = argparse.ArgumentParser()
    root.add_argument("--verbose", action="store_true")
    sub = root.add_subparsers(dest="command")
    train = sub.add_parser("train", aliases=["fit"])
    train.add_argument("--seed", "-s")
    train.add_argument("--flip", action=argparse.BooleanOptionalAction)
    group = train.add_mutually_exclusive_group()
    group.add_argument("--fresh", action="store_true")
    deeper = train.add_subparsers(dest="part").add_parser("head")
    deeper.add_argument("--head-only")
    assert cli_options(root) == {
        "-h",
        "--help",
        "--verbose",
        "--seed",
        "-s",
        "--flip",
        "--no-flip",
        "--fresh",
        "--head-only",
    }


def test_every_flag_named_in_the_pipeline_is_an_option_of_the_cli():
    from pipeline.__main__ import _parser

    options = cli_options(_parser())
    missing = [
        f"{path.relative_to(PIPELINE.parent)}:{line}: {flag}"
        for path in sorted(PIPELINE.rglob("*.py"))
        for line, flag in named_flags(path.read_text(encoding="utf-8"))
        if flag not in options
    ]
    assert not missing, "flags named in messages that the CLI does not have:\n" + "\n".join(missing)
