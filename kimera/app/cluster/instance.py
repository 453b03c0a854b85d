"""The Dagster instance of a Kimera cluster: storage on PostgreSQL, runs queued by the daemon and
launched each in its own process, and the ``duckdb`` pool held at one writer across all of them.

On one machine (``kimera demo``, ``kimera ui``) the instance is SQLite under ``KIMERA_HOME/dagster``
and runs execute inside the process that asks. Here runs, events, schedules and pool slots live in
PostgreSQL, so the webserver, the daemon and every run process (on this machine or another) share
them, and a pool limit holds across processes: however many runs are in flight, one step at a time
writes the DuckDB file.
"""

from __future__ import annotations

from pathlib import Path

import yaml

HEADER = "# Dagster instance of a Kimera cluster (written by `kimera cluster`; rewritten on each start)."


def instance_yaml(postgres_url: str, max_concurrent_runs: int = 4) -> str:
    """``dagster.yaml`` for storage at ``postgres_url`` and a queue of ``max_concurrent_runs`` runs."""
    if max_concurrent_runs < 1:
        raise ValueError(f"max_concurrent_runs is {max_concurrent_runs}: at least 1 run must be able to run")
    instance = {
        "telemetry": {"enabled": False},
        # runs, event logs, schedules and pool slots, all in one database
        "storage": {"postgres": {"postgres_url": postgres_url}},
        # the daemon takes queued runs off the database, at most max_concurrent_runs at once
        "run_coordinator": {
            "module": "dagster.core.run_coordinator",
            "class": "QueuedRunCoordinator",
            "config": {"dequeue_interval_seconds": 1},
        },
        # each run in a process of its own, started by the code server
        "run_launcher": {"module": "dagster.core.launcher", "class": "DefaultRunLauncher"},
        "concurrency": {
            "runs": {"max_concurrent_runs": max_concurrent_runs},
            # DuckDB has one writer: every asset that writes the warehouse holds pool "duckdb", one
            # step at a time across all runs (pools are what the op tag dagster/concurrency_key became)
            "pools": {"granularity": "op", "default_limit": 1},
        },
    }
    return HEADER + "\n" + yaml.safe_dump(instance, sort_keys=False)


def workspace_yaml(code_server_port: int) -> str:
    """``workspace.yaml`` that points the webserver and the daemon at one running code server."""
    location = {"grpc_server": {"host": "127.0.0.1", "port": code_server_port, "location_name": "kimera"}}
    return yaml.safe_dump({"load_from": [location]}, sort_keys=False)


def write_instance(
    dagster_home: Path, postgres_url: str, code_server_port: int, max_concurrent_runs: int
) -> Path:
    """Write ``dagster.yaml`` and ``workspace.yaml`` into ``dagster_home``; returns the workspace file."""
    dagster_home.mkdir(parents=True, exist_ok=True)
    (dagster_home / "dagster.yaml").write_text(instance_yaml(postgres_url, max_concurrent_runs))
    workspace = dagster_home / "workspace.yaml"
    workspace.write_text(workspace_yaml(code_server_port))
    return workspace
