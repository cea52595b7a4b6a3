"""RunConfig's fields as command-line flags: one flag per field, its help the field's comment.

The settings are declared once, in `pipeline.config.RunConfig`; `train` and `sweep` take their
flags from here, so a new field is a new flag with nothing else to write.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import re
import types
import typing

from pipeline.config import CHOICES, PROFILES, RunConfig

# Flags spelled other than `--field-name` (kept as an alias: older commands still work).
ALIASES = {"out_dir": ("--out",)}
_FIELD = re.compile(r"^\s{4}(\w+): ")


def field_help(cls: type = RunConfig) -> dict[str, str]:
    """Each field's comment, the lines of `#` right above it, as one sentence or more."""
    found: dict[str, str] = {}
    comment: list[str] = []
    for line in inspect.getsource(cls).splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            comment.append(stripped.lstrip("# "))
            continue
        match = _FIELD.match(line)
        if match and comment:
            found[match.group(1)] = " ".join(comment)
        comment = []
    return found


def flag_names(name: str) -> tuple[str, ...]:
    return (*ALIASES.get(name, ()), "--" + name.replace("_", "-"))


def _default_text(field: dataclasses.Field) -> str:
    default = field.default_factory() if field.default is dataclasses.MISSING else field.default
    if isinstance(default, tuple):
        default = " ".join(map(str, default)) or "none"
    elif isinstance(default, bool):
        default = "on" if default else "off"
    text = f"default: {'none' if default is None else default}"
    quick = PROFILES["quick"].get(field.name)
    return text + (f"; quick profile: {quick}" if quick is not None else "")


def _value_type(field: dataclasses.Field, hints: dict) -> type:
    """The scalar type of a field: int for `int | None`, str for `tuple[str, ...]`."""
    hint = hints[field.name]
    args = [a for a in typing.get_args(hint) if a is not type(None) and a is not Ellipsis]
    if typing.get_origin(hint) in (tuple, types.UnionType, typing.Union) and args:
        return args[0]
    return hint


def add_config_flags(parser: argparse.ArgumentParser, skip: tuple[str, ...] = ()) -> None:
    """A flag for every RunConfig field not in `skip`. Every default is None, so an unset flag
    leaves the profile's value (`config.make_config`)."""
    helps = field_help()
    hints = typing.get_type_hints(RunConfig)
    for field in dataclasses.fields(RunConfig):
        if field.name in skip:
            continue
        kind = _value_type(field, hints)
        options: dict = {"dest": field.name, "default": None}
        text = f"{helps.get(field.name, '')} ({_default_text(field)})".strip()
        options["help"] = text.replace("%", "%%")  # argparse reads % as a format code
        if field.name in CHOICES:
            options["choices"] = CHOICES[field.name]
        if kind is bool:
            options["action"] = argparse.BooleanOptionalAction
        else:
            options["type"] = kind
            if "choices" not in options:
                options["metavar"] = field.name.upper()
        if field.name == "models":
            options |= {"nargs": "*", "metavar": "MODEL"}
        elif field.name == "external":
            options |= {"action": "append", "metavar": "NAME=PATH.keras"}
        parser.add_argument(*flag_names(field.name), **options)
