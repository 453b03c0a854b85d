"""The cluster's Dagster instance file is one Dagster accepts, and bad settings are named."""

from __future__ import annotations

import pytest
import yaml
from dagster._core.instance.config import dagster_instance_config

from kimera.app.cluster.instance import instance_yaml, write_instance
from kimera.app.cluster.postgres import PostgresUnavailable, server_programs


def test_the_instance_queues_runs_on_postgresql_with_the_duckdb_pool_at_one(tmp_path) -> None:
    workspace = write_instance(tmp_path, "postgresql+psycopg2://kimera@127.0.0.1:5999/dagster", 5998, 3)
    config, _ = dagster_instance_config(str(tmp_path))  # Dagster's own validation of dagster.yaml
    assert config["storage"]["postgres"]["postgres_url"].endswith("@127.0.0.1:5999/dagster")
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert config["concurrency"] == {
        "runs": {"max_concurrent_runs": 3},
        "pools": {"granularity": "op", "default_limit": 1},
    }
    location = yaml.safe_load(workspace.read_text())["load_from"][0]["grpc_server"]
    assert (location["port"], location["location_name"]) == (5998, "kimera")
    with pytest.raises(ValueError, match="max_concurrent_runs is 0"):
        instance_yaml("postgresql://x@127.0.0.1/dagster", 0)


def test_missing_postgresql_programs_say_what_to_install(monkeypatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr("kimera.app.cluster.postgres.glob.glob", lambda pattern: [])
    with pytest.raises(PostgresUnavailable, match=r"initdb, pg_ctl.*apt-get install postgresql"):
        server_programs()
