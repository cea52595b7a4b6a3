"""Imports run one way: the layers of pyproject.toml's [tool.importlinter] hold, a planted
wrong-way import is caught, and no module imports itself through others."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint_imports(tree: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(tree))
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(tree / "pyproject.toml"), "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _copy_of_the_code(tmp_path: Path) -> Path:
    for folder in ("pipeline", "dashboard"):
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("*.pyc"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_layers_hold():
    done = _lint_imports(ROOT)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "Contracts: 2 kept, 0 broken." in done.stdout


def test_a_planted_wrong_way_import_is_caught(tmp_path):
    tree = _copy_of_the_code(tmp_path)
    images = tree / "pipeline" / "data" / "images.py"
    images.write_text(
        images.read_text() + "\n\ndef _planted():\n    from pipeline.workflows import study\n"
    )
    done = _lint_imports(tree)
    assert done.returncode != 0
    assert "pipeline.data is not allowed to import pipeline.workflows" in done.stdout
    assert "pipeline.data.images -> pipeline.workflows.study" in done.stdout


def test_a_planted_import_of_the_dashboard_is_caught(tmp_path):
    tree = _copy_of_the_code(tmp_path)
    stats = tree / "pipeline" / "evaluation" / "stats.py"
    stats.write_text(stats.read_text() + "\nimport dashboard.charts  # noqa\n")
    done = _lint_imports(tree)
    assert done.returncode != 0
    assert "pipeline is not allowed to import dashboard" in done.stdout


def _cycles(graph: grimp.ImportGraph, package: str) -> list[list[str]]:
    """Strongly connected groups of two or more modules (Tarjan), in `package`."""
    modules = sorted(m for m in graph.modules if m == package or m.startswith(package + "."))
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for other in sorted(graph.find_modules_directly_imported_by(module)):
            if other not in modules:
                continue
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in on_stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for module in modules:
        if module not in index:
            visit(module)
    return found


def test_no_module_imports_itself_through_others():
    sys.path.insert(0, str(ROOT))
    try:
        graph = grimp.build_graph("pipeline", "dashboard", cache_dir=None)
    finally:
        sys.path.remove(str(ROOT))
    assert _cycles(graph, "pipeline") == []
    assert _cycles(graph, "dashboard") == []


def test_the_cycle_finder_finds_a_cycle():
    graph = grimp.ImportGraph()
    for module in ("pkg", "pkg.a", "pkg.b", "pkg.c"):
        graph.add_module(module)
    graph.add_import(importer="pkg.a", imported="pkg.b")
    graph.add_import(importer="pkg.b", imported="pkg.a")
    graph.add_import(importer="pkg.c", imported="pkg.a")
    assert _cycles(graph, "pkg") == [["pkg.a", "pkg.b"]]
