"""Servers the scaled-out tests start for themselves on free loopback ports, and stop after:
PostgreSQL (kimera.cluster.postgres, the same code ``kimera cluster`` runs), Redis and moto's S3."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kimera.cluster.postgres import PostgresServer, throwaway_postgres


@pytest.fixture
def postgres() -> Iterator[PostgresServer]:
    """A fresh PostgreSQL server for one test, deleted after it."""
    with throwaway_postgres() as server:
        yield server
