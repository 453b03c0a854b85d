"""The house's layers (docs/contracts.md), read from the source: every import, at any depth.

From the top: ``kimera.app`` (command line, demo, report); then ``pipelines``, ``execution``,
``bentos``, ``bench``; then ``models`` and ``connect``; at the bottom ``marketsim`` and the
``kimera`` foundation (settings, config, schema, signing). A package imports its own layer or lower
ones, never a cycle, and a few pairs are ruled out by name (``pipelines`` never imports
``execution``: signals cross the service's signed API). A broken rule fails naming the file, the
line and the import.
"""

from __future__ import annotations

import ast
import pickle
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent

LAYERS: dict[str, int] = {
    "kimera.app": 4,
    "pipelines": 3,
    "execution": 3,
    "bentos": 3,
    "bench": 3,
    "live": 3,
    "backtest": 3,
    "models": 2,
    "connect": 2,
    "marketsim": 1,
    "kimera": 1,
}
# `tests` is not a layer: nothing shipped may import it.
PROJECT = (*LAYERS, "tests")

# (importer, imported): never, whatever the layers say; the reason goes into the failure.
FORBIDDEN: dict[tuple[str, str], str] = {
    ("pipelines", "execution"): "pipelines never imports execution (signals cross the service's signed API)",
    ("execution", "pipelines"): "execution does not know the pipelines (they speak to it over its API)",
    ("models", "pipelines"): "models do not know the Dagster code location",
    ("connect", "pipelines"): "connectivity does not know the pipelines",
    ("live", "execution"): "the live loop reaches the execution service over its signed API only",
    ("live", "pipelines"): "the live loop does not know the Dagster code location (it lands files)",
    ("pipelines", "live"): "the Dagster code location observes the loop through its status file",
    ("connect", "execution"): "connectivity does not know the execution service",
    ("models", "bentos"): "models do not know how they are served",
    ("connect", "bentos"): "connectivity does not know the model server",
    ("kimera", "marketsim"): "the foundation imports nothing of the project",
    ("kimera", "connect"): "the foundation imports nothing of the project",
    ("kimera", "models"): "the foundation imports nothing of the project",
    ("marketsim", "kimera"): "marketsim imports nothing of the project",
    ("marketsim", "connect"): "marketsim imports nothing of the project",
    ("bench", "tests"): "benchmarks are shipped; tests are not",
    ("pipelines", "backtest"): "the Dagster asset runs backtests as a subprocess (python -m backtest)",
    ("live", "backtest"): "the live loop does not know the backtest that replays it",
    ("execution", "backtest"): "the execution service does not know the backtest that reuses its parts",
}
for _pkg in LAYERS:
    FORBIDDEN.setdefault((_pkg, "tests"), f"{_pkg} is shipped; tests are not")

# Entry points that may reach up: `python -m kimera` is the command line.
ENTRY_POINTS = {"kimera/__main__.py"}


def package_of(module: str) -> str | None:
    """The layer a dotted module name belongs to (``kimera.app.cli`` -> ``kimera.app``), or None."""
    if module == "kimera.app" or module.startswith("kimera.app."):
        return "kimera.app"
    top = module.split(".")[0]
    return top if top in PROJECT else None


def _parse(path: Path) -> ast.Module:
    try:
        return ast.parse(path.read_text(), str(path))
    except SystemError:
        # CPython 3.11.7 can leave its AST converter's depth count off after an earlier failure in the
        # same process ("AST constructor recursion depth mismatch"): parse in a fresh interpreter.
        code = "import ast, pickle, sys; sys.stdout.buffer.write(pickle.dumps(ast.parse(open(sys.argv[1]).read())))"
        done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, check=True)
        return pickle.loads(done.stdout)


def imports(path: Path, root: Path) -> Iterator[tuple[int, str]]:
    """(line, module) of every import in ``path``: top level, in functions, under TYPE_CHECKING,
    relative ones resolved, and ``importlib.import_module("...")`` with a literal name."""
    rel = path.relative_to(root).with_suffix("")
    here = list(rel.parts if rel.name == "__init__" else rel.parts[:-1])
    if rel.name == "__init__":
        here = here[:-1]
    for node in ast.walk(_parse(path)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            yield node.lineno, module
            for alias in node.names:  # `from kimera import app` imports kimera.app
                yield node.lineno, f"{module}.{alias.name}"
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.lineno, node.args[0].value


def edges(root: Path) -> Iterator[tuple[str, str, str, int, str]]:
    """(importer package, imported package, file, line, module) for every import across packages."""
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if rel.startswith((".venv/", "tests/", "evm/", "dbt_project/")) or rel in ENTRY_POINTS:
            continue
        source = package_of(rel.removesuffix(".py").replace("/", "."))
        if source is None:
            continue
        for line, module in imports(path, root):
            target = package_of(module)
            if target is not None and target != source:
                yield source, target, rel, line, module


def violations(root: Path) -> list[str]:
    """Every broken rule under ``root``, one line each naming the file, the line and the import."""
    found: list[str] = []
    graph: dict[str, set[str]] = {}
    named: set[tuple[str, int, str]] = set()
    for source, target, rel, line, module in edges(root):
        graph.setdefault(source, set()).add(target)
        if (rel, line, target) in named:  # `from a import b, c`: one line, one failure
            continue
        named.add((rel, line, target))
        where = f"{rel}:{line} imports {module}"
        if (source, target) in FORBIDDEN:
            found.append(f"{where}: {FORBIDDEN[source, target]}")
        elif target in LAYERS and LAYERS[target] > LAYERS[source]:
            found.append(
                f"{where}: {source} (layer {LAYERS[source]}) may not import {target} (layer {LAYERS[target]}, above it)"
            )
    for cycle in cycles(graph):
        found.append(f"package cycle: {' -> '.join(cycle)}")
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each elementary cycle once, found by depth-first search from every package."""
    seen: set[frozenset[str]] = set()
    out: list[list[str]] = []

    def walk(path: list[str]) -> None:
        for nxt in sorted(graph.get(path[-1], ())):
            if nxt == path[0]:
                key = frozenset(path)
                if key not in seen:
                    seen.add(key)
                    out.append([*path, nxt])
            elif nxt not in path:
                walk([*path, nxt])

    for start in sorted(graph):
        walk([start])
    return out


def test_the_source_tree_keeps_the_layers() -> None:
    broken = violations(REPO_ROOT)
    assert not broken, "the layers of docs/contracts.md are broken:\n" + "\n".join(broken)


def test_every_top_level_package_has_a_layer() -> None:
    packages = {p.parent.name for p in REPO_ROOT.glob("*/__init__.py")} - {"tests"}
    assert packages <= set(LAYERS), f"give {sorted(packages - set(LAYERS))} a layer in tests/test_layers.py"


def _plant(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.mark.parametrize(
    ("rel", "text", "expected"),
    [
        (
            "pipelines/signals/push.py",
            "def f():\n    from execution.oms import Oms\n",
            "pipelines/signals/push.py:2 imports execution.oms: pipelines never imports execution",
        ),
        (
            "kimera/config.py",
            "import x\nfrom kimera.app import cli\n",
            "kimera/config.py:2 imports kimera.app: kimera (layer 1) may not import kimera.app (layer 4, above it)",
        ),
        (
            "models/neural.py",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import bentos.service\n",
            "models/neural.py:3 imports bentos.service: models do not know how they are served",
        ),
        (
            "bench/ingest.py",
            "from tests.support.config import x\n",
            "bench/ingest.py:1 imports tests.support.config: benchmarks are shipped",
        ),
        (
            "marketsim/cex.py",
            "import importlib\nimportlib.import_module('kimera.config')\n",
            "marketsim/cex.py:2 imports kimera.config: marketsim imports nothing of the project",
        ),
        (
            "execution/venues/base.py",
            "from ...pipelines import warehouse\n",
            "execution/venues/base.py:1 imports pipelines: execution does not know the pipelines",
        ),
    ],
    ids=[
        "pipelines-to-execution",
        "foundation-to-app",
        "models-to-bentos",
        "bench-to-tests",
        "marketsim-up",
        "relative",
    ],
)
def test_a_broken_rule_is_named_with_its_file_and_import(
    tmp_path: Path, rel: str, text: str, expected: str
) -> None:
    for package in ("kimera", "kimera/app", "pipelines", "execution", "models", "bench", "marketsim"):
        _plant(tmp_path, f"{package}/__init__.py", "")
    _plant(tmp_path, rel, text)
    assert any(v.startswith(expected) for v in violations(tmp_path)), violations(tmp_path)


def test_a_cycle_between_packages_is_named(tmp_path: Path) -> None:
    _plant(tmp_path, "execution/a.py", "import bentos.b\n")
    _plant(tmp_path, "bentos/b.py", "def f():\n    import execution.a\n")
    assert "package cycle: bentos -> execution -> bentos" in violations(tmp_path)
