"""Every use of a framework's private API holds on the installed versions (``kimera.fences``).

An upgrade of Dagster, dbt, dbt-duckdb or BentoML that moves a private name, drops a macro the
project overrides, or is simply not the version a bypass was measured against fails here, naming
the bypass and the files that use it.
"""

from __future__ import annotations

import pytest

from bentos.fences import BYPASSES as BENTOML
from kimera.fences import Bypass, broken
from models.fences import BYPASSES as OPTUNA
from pipelines.fences.dagster import BYPASSES as DAGSTER
from pipelines.fences.dbt import BYPASSES as DBT

ALL = (*DAGSTER, *DBT, *BENTOML, *OPTUNA)


@pytest.mark.parametrize("bypass", ALL, ids=[b.name for b in ALL])
def test_the_bypass_holds_on_the_installed_framework(bypass: Bypass) -> None:
    problems = broken(bypass)
    assert not problems, "\n".join(problems)


def test_every_private_import_of_the_project_is_fenced() -> None:
    from tests.test_layers import REPO_ROOT, imports

    fenced = {s.partition(":")[0] for b in ALL for s in b.symbols}
    unfenced = []
    for path in sorted(REPO_ROOT.glob("*/**/*.py")):
        rel = path.relative_to(REPO_ROOT).as_posix()
        if (
            rel.startswith((".venv/", "tests/", "evm/", "zk/", "dbt_project/", "bench/"))
            or "node_modules/" in rel
        ):
            continue
        for line, module in imports(path, REPO_ROOT):
            private = any(part.startswith("_") and part != "__future__" for part in module.split(".")[1:])
            framework = module.split(".")[0] in ("dagster", "bentoml", "dbt")
            listed = any(module == m or module.startswith(m + ".") for m in fenced)
            if framework and private and not listed:
                unfenced.append(f"{rel}:{line} imports {module}")
    assert not unfenced, "list these private imports in a fence module (kimera.fences):\n" + "\n".join(
        unfenced
    )


def test_a_moved_name_a_dropped_macro_and_a_new_version_are_named() -> None:
    bypass = Bypass(
        name="example",
        used_in=("pipelines/example.py",),
        why="to see the failure",
        measured_against={"dagster": "0.0.1"},
        symbols=("dagster._core.events:NO_SUCH_NAME",),
        macros=(("dbt.include.global_project", "no_such_macro"),),
    )
    problems = broken(bypass)
    assert any("measured against dagster 0.0.1, installed 1.13" in p for p in problems), problems
    assert any(p.endswith("dagster._core.events:NO_SUCH_NAME is gone") for p in problems), problems
    assert any("no longer defines no_such_macro" in p for p in problems), problems
    assert all(p.startswith("example (used in pipelines/example.py)") for p in problems)
