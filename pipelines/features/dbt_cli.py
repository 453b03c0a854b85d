"""Run the dbt CLI on the project in a subprocess, the way Dagster's ``DbtCliResource`` does.

For tests, benchmarks and the bad-data demo: ``run_dbt(["build"], home=...)`` builds the warehouse
under ``home`` with the config's vars and returns dbt's run results, or raises :class:`DbtFailed`
with the lines that say what failed.
"""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kimera.settings import Settings
from pipelines.features.project import DBT_PROJECT_DIR, dbt_executable


class DbtFailed(RuntimeError):
    """dbt exited with an error; the message carries its error lines."""


@dataclass(frozen=True)
class DbtRun:
    args: list[str]
    wall_s: float
    output: str
    run_results: dict[str, Any] | None

    def statuses(self) -> dict[str, str]:
        """unique_id -> status (success, pass, fail, error, skipped) of every node dbt ran."""
        results = (self.run_results or {}).get("results", [])
        return {r["unique_id"]: r["status"] for r in results}

    @property
    def elapsed_s(self) -> float:
        """dbt's own time for the nodes (without process start and parsing)."""
        return float((self.run_results or {}).get("elapsed_time", 0.0))


def run_dbt(
    args: list[str],
    home: Path,
    dbt_vars: dict[str, Any] | None = None,
    target_path: Path | None = None,
    check: bool = True,
) -> DbtRun:
    """Run ``dbt <args>`` against ``home/warehouse.duckdb``; artefacts go to ``target_path`` (default
    ``home/dbt/target``, where the Dagster assets keep theirs), logs beside it."""
    target = target_path or home / "dbt" / "target"
    command = [
        dbt_executable(),
        *args,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
    ]
    command += ["--target-path", str(target), "--log-path", str(target / "logs")]
    if dbt_vars:
        command += ["--vars", json.dumps(dbt_vars)]
    env = Settings(home=home).tool_environment()
    results_path = target / "run_results.json"
    results_path.unlink(missing_ok=True)
    started = time.perf_counter()
    proc = subprocess.run(command, cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    results = json.loads(results_path.read_text()) if results_path.exists() else None
    run = DbtRun(args=args, wall_s=wall, output=proc.stdout + proc.stderr, run_results=results)
    if check and proc.returncode != 0:
        errors = [
            line for line in run.output.splitlines() if "error" in line.lower() or "fail" in line.lower()
        ]
        raise DbtFailed(f"dbt {' '.join(args)} failed (exit {proc.returncode}):\n" + "\n".join(errors[-30:]))
    return run
