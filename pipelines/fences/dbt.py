"""Where the features reach into dbt's and dbt-duckdb's internals, and the versions measured against."""

from __future__ import annotations

from kimera.fences import Bypass

BYPASSES: tuple[Bypass, ...] = (
    Bypass(
        name="closing dbt-duckdb's kept-open database",
        used_in=("pipelines/features/dbt_cli.py",),
        why="dbt-duckdb keeps the warehouse open for the process's life, holding its lock after dbt returns",
        measured_against={"dbt-duckdb": "1.11.1"},
        symbols=(
            "dbt.adapters.duckdb.connections:DuckDBConnectionManager._ENV",
            "dbt.adapters.duckdb.connections:DuckDBConnectionManager.close_all_connections",
        ),
    ),
    Bypass(
        name="view materialization in one statement",
        used_in=("dbt_project/macros/materializations/view.sql",),
        why="create or replace view instead of dbt's four statements per view per run",
        measured_against={"dbt-core": "1.11.16"},
        macros=(("dbt.include.global_project", "view"),),
    ),
    Bypass(
        name="persist_docs only where descriptions changed",
        used_in=("dbt_project/macros/persist_docs.sql",),
        why="one query per model instead of rewriting every column comment on every run",
        measured_against={"dbt-core": "1.11.16", "dbt-duckdb": "1.11.1"},
        macros=(("dbt.include.global_project", "default__persist_docs"),),
    ),
)
