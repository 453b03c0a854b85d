"""Browser fixtures: Debian's headless Chromium driven by playwright, ``dagster dev`` on a free port,
and a place for screenshots (``test-artifacts/``, gitignored; CI keeps it as the run's artefact)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from kimera.settings import Settings
from tests.conftest import REPO_ROOT

ARTIFACTS = REPO_ROOT / "test-artifacts"
# Debian's package (installed by .ci/run); playwright's own browser download cannot work offline.
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def browser_page(tmp_path: Path):
    """A page of a fresh headless Chromium (its own user-data dir under tmp_path)."""
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium is needed: apt-get install -y chromium (.ci/run does)"
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1600, "height": 1000},
        )
        try:
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()


def stop(process: subprocess.Popen) -> None:
    """SIGTERM (what dagster dev and uvicorn shut down cleanly on), then SIGKILL the group if it lingers."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


NUX_SEEN = "mutation { setNuxSeen }"


@pytest.fixture
def dagster_ui(kimera_home: Settings) -> Iterator[str]:
    """``kimera ui`` (dagster dev) on 127.0.0.1 and a free port, loaded; yields its URL."""
    port = free_port()
    log_path = kimera_home.home_dir.parent / "dagster-dev.log"
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
        _wait_loaded(url, server, log_path)
        # A fresh instance opens a "Join the Dagster community" modal over everything: mark it seen.
        answer = httpx.post(f"{url}/graphql", json={"query": NUX_SEEN}, timeout=30).json()
        assert answer.get("data", {}).get("setNuxSeen") is True, answer
        yield url
    finally:
        stop(server)


def _wait_loaded(url: str, server: subprocess.Popen, log_path: Path, timeout_s: float = 180) -> None:
    query = "{ workspaceOrError { ... on Workspace { locationEntries { loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }"
    deadline = time.monotonic() + timeout_s
    while True:
        assert server.poll() is None, log_path.read_text()[-3000:]
        try:
            body = httpx.post(f"{url}/graphql", json={"query": query}, timeout=5).json()
            entries = body["data"]["workspaceOrError"]["locationEntries"]
            if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                loaded = [e["locationOrLoadError"] for e in entries]
                assert all(x["__typename"] == "RepositoryLocation" for x in loaded), loaded
                return
        except (httpx.HTTPError, KeyError, TypeError, ValueError):
            pass
        assert time.monotonic() < deadline, f"dagster dev did not load in {timeout_s} s: {log_path}"
        time.sleep(1)
