"""Fixtures: a config for a test, the paper venue server in its own process, the service in-process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from kimera.config import load_config
from kimera.settings import get_settings
from tests.support.net import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
# the API key a service started as its own process accepts (issue #8: every request is authenticated)
SERVICE_KEY_SECRET = "test-execution-key-3b9d5f7a1c2e4f6a8b0d"


def service_env(**extra: str) -> dict[str, str]:
    """Environment for a service process: the repository on the path and the test API key's secret."""
    return dict(
        os.environ, PYTHONPATH=str(REPO_ROOT), KIMERA_SECRET_EXECUTION_KEY_LOCAL=SERVICE_KEY_SECRET, **extra
    )


def signed_client(**kw) -> httpx.Client:
    """An httpx client that signs every request with the test API key."""
    from pydantic import SecretStr

    from kimera.signing import SignedAuth

    return httpx.Client(auth=SignedAuth("local", SecretStr(SERVICE_KEY_SECRET)), **kw)


def write_config(path: Path, execution: dict[str, Any]) -> Path:
    """The repository's config with the ``execution`` section merged from ``execution``."""
    data = yaml.safe_load((REPO_ROOT / "kimera.yaml").read_text())
    section = data.setdefault("execution", {})
    for key, value in execution.items():
        if isinstance(value, dict) and isinstance(section.get(key), dict):
            section[key].update(value)
        else:
            section[key] = value
    path.write_text(yaml.safe_dump(data))
    return path


def wait_http(url: str, proc: subprocess.Popen | None = None, timeout: float = 30.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process for {url} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=0.5).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(url)


class PaperServer:
    def __init__(self, proc: subprocess.Popen, url: str):
        self.proc, self.url = proc, url

    def state(self) -> dict[str, Any]:
        return httpx.get(f"{self.url}/admin/state", timeout=10).json()

    def set_faults(self, **faults: float) -> None:
        httpx.put(f"{self.url}/admin/faults", json=faults, timeout=5).raise_for_status()


def start_paper(config_path: Path, port: int, faults: str | None = None) -> PaperServer:
    cmd = [sys.executable, "-m", "execution.venues.server", "--port", str(port), "--config", str(config_path)]
    if faults:
        cmd += ["--faults", faults]
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env)
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/ping", proc)
    return PaperServer(proc, url)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# Limits a test can count on: fast polls, generous venue rate limits, small slices switched off.
FAST = {
    "oms": {"venue_timeout_s": 1.0, "fill_poll_interval_s": 0.05, "reconcile_interval_s": 1.0, "unknown_grace_s": 0.2,
            "backoff_base_s": 0.02, "backoff_max_s": 0.3, "ack_wait_s": 2.0},
    "routing": {"slice_threshold_notional": 1.0e9, "book_max_age_s": 10.0},  # a busy CI machine lags
    "risk": {"max_order_notional": 1.0e6},
    "paper": {"rate_limit_per_s": {"alpha": 500, "bravo": 500, "charlie": 500, "uniswap_v2_weth_usdc": 100,
                                   "uniswap_v2_wbtc_usdc": 100}},
}  # fmt: skip


@pytest.fixture
def exec_env(kimera_home, tmp_path):
    """(config path, paper port) for a test: FAST settings, journal under the test's KIMERA_HOME."""
    port = free_port()
    cfg = {**FAST, "paper": {**FAST["paper"], "url": f"http://127.0.0.1:{port}", "port": port}}
    path = write_config(tmp_path / "kimera.yaml", cfg)
    return path, port


@pytest.fixture
def paper(exec_env) -> Iterator[PaperServer]:
    path, port = exec_env
    server = start_paper(path, port)
    try:
        yield server
    finally:
        stop(server.proc)


@pytest.fixture
async def service(exec_env, paper, monkeypatch):
    """A started in-process ExecutionService against the paper server."""
    from execution.service import ExecutionService

    path, _ = exec_env
    monkeypatch.setenv("KIMERA_CONFIG", str(path))
    get_settings.cache_clear()
    svc = ExecutionService(load_config(path), get_settings())
    await svc.start()
    try:
        yield svc
    finally:
        await svc.stop()


def signal(
    i: int, asset: str = "BTC", forecast: float = 0.004, width: float = 0.01, **kw: Any
) -> dict[str, Any]:
    body = {
        "signal_id": f"sig-{i}",
        "asset": asset,
        "model_tag": "test-model",
        "prediction_id": f"pred-{i}",
        "feature_time": "2026-04-01T00:00:00",
        "horizon": 1,
        "forecast": forecast,
        "lower": forecast - width,
        "upper": forecast + width,
        "p_up": 0.6,
    }
    body.update(kw)
    return body
