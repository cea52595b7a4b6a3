"""House rule: a call of one of the project's own functions or classes passes at most three
arguments by position, the rest by keyword (`f(a, b, c, d=...)`, never `f(a, b, c, d)`).

Calls are matched by name against every function and class defined in pipeline/ and
dashboard/, as a reader would match them: `x.save(...)` counts as a call of our `save`.
A call of another library's function that happens to share a name with one of ours is
not ours; such a call goes in ALLOWED, with a comment saying whose function it is.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("pipeline", "dashboard")
MOST_POSITIONAL = 3

# (file relative to the repository root, the called expression as `ast.unparse` writes it)
# -> whose function it really is. Calls that resolve to a non-project object only.
ALLOWED: dict[tuple[str, str], str] = {
    # None today. An entry reads, for example:
    # ("pipeline/modeling/train.py", "model.fit"): "Keras' Model.fit, not a function of ours",
}


def _sources(folders=FOLDERS) -> dict[str, str]:
    return {
        f.relative_to(ROOT).as_posix(): f.read_text(encoding="utf-8")
        for folder in folders
        for f in sorted((ROOT / folder).rglob("*.py"))
    }


def defined_names(trees: dict[str, ast.Module]) -> set[str]:
    """Names of every function, method and class the given modules define."""
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    return {
        node.name for tree in trees.values() for node in ast.walk(tree) if isinstance(node, kinds)
    }


def _called_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    if isinstance(call.func, ast.Name):
        return call.func.id
    return None  # e.g. `BUILDERS[name](...)`: not matched by name


def offending_calls(
    path: str,
    tree: ast.Module,
    defined: set[str],
    allowed: dict[tuple[str, str], str] = ALLOWED,
) -> list[str]:
    """`path:line: name(N positional)` for each call in `tree` of a name in `defined` with
    more than three positional arguments (a `*args` argument is not counted)."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _called_name(node)
        positional = sum(not isinstance(a, ast.Starred) for a in node.args)
        if name not in defined or positional <= MOST_POSITIONAL:
            continue
        if (path, ast.unparse(node.func)) in allowed:
            continue
        found.append((node.lineno, f"{path}:{node.lineno}: {name}({positional} positional)"))
    return [line for _, line in sorted(found)]


def _project_trees() -> dict[str, ast.Module]:
    return {path: ast.parse(text, filename=path) for path, text in _sources().items()}


@pytest.mark.parametrize("folder", FOLDERS)
def test_calls_of_our_functions_pass_at_most_three_arguments_by_position(folder):
    trees = _project_trees()
    defined = defined_names(trees)
    offenders = [
        line
        for path, tree in trees.items()
        if path.startswith(f"{folder}/")
        for line in offending_calls(path, tree, defined)
    ]
    assert not offenders, (
        f"{len(offenders)} call(s) in {folder}/ pass more than {MOST_POSITIONAL} arguments by "
        "position; pass the rest by keyword:\n" + "\n".join(offenders)
    )


def test_every_allowed_call_is_still_there():
    trees = _project_trees()
    calls = {
        (path, ast.unparse(node.func))
        for path, tree in trees.items()
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
    }
    assert not set(ALLOWED) - calls, "ALLOWED names calls that are gone: remove them"


SAMPLE = """
def defined(a, b, c, d=0):
    return a


class Made:
    def __init__(self, a, b, c, d):
        self.a = a


defined(1, 2, 3, 4)          # line 11: caught
defined(1, 2, 3)             # three by position: fine
defined(1, 2, 3, d=4)        # the fourth by keyword: fine
Made(1, 2, 3, 4)             # line 14: a class of ours counts too
obj.defined(1, 2, 3, 4)      # line 15: matched by name
defined(*rest, 1, 2, 3)      # `*rest` is not counted: fine
elsewhere(1, 2, 3, 4)        # not a name of ours: fine
lib.defined(1, 2, 3, 4)      # allowed below: another library's `defined`
"""


def test_the_checker_catches_a_fourth_positional_argument_and_nothing_else():
    tree = ast.parse(SAMPLE)
    defined = defined_names({"sample.py": tree})
    assert {"defined", "Made", "__init__"} <= defined
    allowed = {("sample.py", "lib.defined"): "the sample's other library"}
    assert offending_calls("sample.py", tree, defined, allowed) == [
        "sample.py:11: defined(4 positional)",
        "sample.py:14: Made(4 positional)",
        "sample.py:15: defined(4 positional)",
    ]
    assert "sample.py:18: defined(4 positional)" in offending_calls("sample.py", tree, defined, {})
