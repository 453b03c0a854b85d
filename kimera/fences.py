"""What a framework bypass is, and how to tell that an installed framework broke it.

Kimera reaches into a few frameworks' private APIs for speed (Dagster's event log and run
internals, BentoML's stores, dbt's DuckDB connection and macro overrides). Each use is listed as a
:class:`Bypass` in one module per framework (``pipelines/fences/dagster.py``,
``pipelines/fences/dbt.py``, ``bentos/fences.py``) with the version it was measured against;
``tests/test_fences.py`` runs :func:`broken` on each, so an upgrade that moves a private name, drops
an overridden macro or changes the version fails loudly, naming the bypass and where it is used.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import re
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Bypass:
    """One use of a framework's private API.

    ``symbols`` are ``"module:attribute.attribute"`` names the code imports or calls; ``macros``
    are ``(package, macro name)`` pairs of the framework's own macros a project macro replaces
    (the framework must still define them, or the override overrides nothing).
    """

    name: str
    used_in: tuple[str, ...]  # files of the project
    why: str
    measured_against: dict[str, str]  # distribution -> version
    symbols: tuple[str, ...] = ()
    macros: tuple[tuple[str, str], ...] = field(default_factory=tuple)


def _resolve(symbol: str) -> str | None:
    module_name, _, attrs = symbol.partition(":")
    try:
        target = importlib.import_module(module_name)
    except ImportError as exc:
        return f"module {module_name} is gone ({exc})"
    for attr in attrs.split(".") if attrs else ():
        if not hasattr(target, attr):
            return f"{symbol} is gone"
        target = getattr(target, attr)
    return None


def _macro_defined(package: str, macro: str) -> bool:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return False
    pattern = re.compile(rf"macro\s+{re.escape(macro)}\s*\(|materialization\s+{re.escape(macro)}\b")
    for root in spec.submodule_search_locations:
        for path in Path(root).rglob("*.sql"):
            if pattern.search(path.read_text(errors="ignore")):
                return True
    return False


def broken(bypass: Bypass) -> list[str]:
    """What is wrong with ``bypass`` on the installed frameworks (empty when it holds), each line
    naming the bypass and the files that use it."""
    where = f"{bypass.name} (used in {', '.join(bypass.used_in)})"
    problems = []
    for dist, version in bypass.measured_against.items():
        try:
            installed = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            installed = "not installed"
        if installed != version:
            problems.append(
                f"{where}: measured against {dist} {version}, installed {installed}: check the bypass and "
                "its benchmark on this version, then update measured_against"
            )
    for symbol in bypass.symbols:
        if (gone := _resolve(symbol)) is not None:
            problems.append(f"{where}: {gone}")
    for package, macro in bypass.macros:
        if not _macro_defined(package, macro):
            problems.append(
                f"{where}: {package} no longer defines {macro}, which the project's macro overrides"
            )
    return problems
