"""Servers the scaled-out tests start for themselves on free loopback ports, and stop after:
PostgreSQL (kimera.app.cluster.postgres, the same code ``kimera cluster`` runs), Redis and moto's S3."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from kimera.app.cluster.postgres import PostgresServer, free_port, throwaway_postgres
from kimera.app.cluster.redis import RedisServer, throwaway_redis


@pytest.fixture
def postgres() -> Iterator[PostgresServer]:
    """A fresh PostgreSQL server for one test, deleted after it."""
    with throwaway_postgres() as server:
        yield server


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A fresh Redis server (free loopback port, own folder, nothing persisted) for one test, stopped
    and deleted after it (``kimera cluster --executor celery`` starts its own the same way)."""
    with throwaway_redis() as server:
        yield server


@dataclass(frozen=True)
class S3Server:
    """A local S3-compatible server (moto's server mode) and a bucket made on it."""

    endpoint_url: str
    bucket: str


@pytest.fixture
def s3_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Server]:
    """moto's S3 server on a free loopback port with bucket ``kimera``; any credentials are accepted."""
    import fsspec

    for key, value in {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    port = free_port()
    log = (tmp_path / "moto.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, (tmp_path / "moto.log").read_text()
            try:
                httpx.get(url, timeout=2)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "moto's S3 server did not answer in 60 s"
                time.sleep(0.2)
        fsspec.filesystem("s3", client_kwargs={"endpoint_url": url}, skip_instance_cache=True).mkdir("kimera")
        yield S3Server(endpoint_url=url, bucket="kimera")
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
