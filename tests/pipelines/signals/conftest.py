"""A served KIMERA_HOME, and the real execution service (``kimera execute``, with its paper venues) on
loopback to push signals to."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from types import SimpleNamespace

import httpx
import pytest

from tests.bentos.world import REPO_CONFIG, install, trained, write_config
from tests.support.net import free_port


@pytest.fixture
def signals_home(kimera_home, tmp_path, monkeypatch):
    """KIMERA_HOME with marts, the promoted ensemble and a linear model; free ports for every server."""
    from kimera.settings import get_settings

    port, exec_port, paper_port = free_port(), free_port(), free_port()
    config = write_config(
        tmp_path / "kimera.yaml",
        serving={"port": port, "signals": {"max_bars": 48}},
        execution={"port": exec_port, "paper": {"url": f"http://127.0.0.1:{paper_port}", "port": paper_port}},
    )
    monkeypatch.setenv("KIMERA_CONFIG", str(config))
    # the key the execution service accepts and the signals asset signs with (kimera.signing)
    monkeypatch.setenv("KIMERA_SECRET_EXECUTION_KEY_LOCAL", "signals-test-secret-0123456789abcdef")
    get_settings.cache_clear()
    settings = get_settings()
    world = trained()
    tags = install(settings, world)
    return SimpleNamespace(
        settings=settings, tags=tags, trained=world, model_url=f"http://127.0.0.1:{port}",
        execution_url=f"http://127.0.0.1:{exec_port}",
    )  # fmt: skip


@pytest.fixture
def execution_service(signals_home):
    """``kimera execute`` in its own process group (it starts its paper venue server); stopped after."""
    url = signals_home.execution_url
    log = open(signals_home.settings.home_dir / "execution.log", "wb")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(
        [sys.executable, "-m", "kimera", "execute"],
        cwd=REPO_CONFIG.parent,
        env=signals_home.settings.tool_environment(),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert process.poll() is None, (signals_home.settings.home_dir / "execution.log").read_text()[
                -3000:
            ]
            try:
                if httpx.get(f"{url}/healthz", timeout=1).json().get("status") == "ok":
                    break
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.2)
        else:
            raise TimeoutError(f"the execution service at {url} did not start")
        yield SimpleNamespace(url=url)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        log.close()
