"""``kimera ui`` (dagster dev) on a free loopback port, started, waited for and stopped, for the UI
tests (GraphQL in tests/app/test_ui.py, headless Chromium in tests/browser)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from kimera.settings import Settings
from tests.conftest import REPO_ROOT
from tests.support.net import free_port

LOCATIONS = (
    "{ workspaceOrError { ... on Workspace { locationEntries { loadStatus "
    "locationOrLoadError { __typename ... on PythonError { message } } } } } }"
)


def stop(process: subprocess.Popen) -> None:
    """SIGTERM (what dagster dev and uvicorn shut down cleanly on), then SIGKILL the group if it lingers."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


@contextmanager
def dagster_dev(home: Settings, timeout_s: float = 180) -> Iterator[str]:
    """Start ``kimera ui`` for ``home`` and yield its URL once every code location has loaded
    (a location that fails to load fails the test with Dagster's error); stop it after."""
    port = free_port()
    log_path = home.home_dir.parent / "dagster-dev.log"
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    with log_path.open("w") as log:
        # Popen, not `cmd &` from a shell (whose SIGTERM dagster dev ignores); own session for its children
        server = subprocess.Popen(
            [sys.executable, "-m", "kimera", "ui", "--port", str(port)],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_loaded(url, server, log_path, timeout_s)
        yield url
    finally:
        stop(server)


def _wait_loaded(url: str, server: subprocess.Popen, log_path: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        assert server.poll() is None, log_path.read_text()[-3000:]
        try:
            body = httpx.post(f"{url}/graphql", json={"query": LOCATIONS}, timeout=5).json()
            entries = body["data"]["workspaceOrError"]["locationEntries"]
            if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                loaded = [e["locationOrLoadError"] for e in entries]
                assert all(x["__typename"] == "RepositoryLocation" for x in loaded), loaded
                return
        except (httpx.HTTPError, KeyError, TypeError, ValueError):
            pass
        assert time.monotonic() < deadline, f"dagster dev did not load in {timeout_s} s: {log_path}"
        time.sleep(1)
