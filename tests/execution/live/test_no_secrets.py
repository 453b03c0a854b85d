"""A full live run leaves no secret anywhere: not in any file under KIMERA_HOME, not in any log.

``kimera execute`` runs as its own process at DEBUG log level against the local Binance (API key
and secret) and the eth-tester pool (a wallet's private key); ``kimera call`` and a signed client
trade, cancel, trace, read balances and costs; forged and unsigned requests are refused; then
``kimera audit verify`` and ``kimera costs`` run. Every byte written is searched for every secret,
in every form it could be written in (tests/support/secret_forms.py).
"""

from __future__ import annotations

import json
import os
import signal as signals
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from kimera.signing import SignedAuth, sign_request
from tests.execution.conftest import REPO_ROOT, signal, wait_http
from tests.execution.live.conftest import API_KEY, API_SECRET, SIGNING_SECRET, ccxt_ref, write_live_config
from tests.support.net import free_port
from tests.support.secret_forms import find_secret


def kimera(*args: str, env: dict[str, str], out: Path) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "kimera", *args], cwd=REPO_ROOT, env=env, capture_output=True,
                            text=True, timeout=120)  # fmt: skip
    with out.open("a") as handle:
        handle.write(f"$ kimera {' '.join(args)}\n{result.stdout}{result.stderr}")
    return result


@pytest.mark.slow
def test_no_secret_is_written_to_any_file_or_log_after_a_full_live_run(
    exchange, make_pool, tmp_path, kimera_home
):
    server, orders = exchange
    dex = make_pool(server.market.mid("ETH/USDT", server.market.now_ms()) * 0.995)
    port = free_port()
    execution = {"port": port, "venues": [ccxt_ref(server), dex.venue()],
                 "risk": {"max_position_notional": 8000, "max_order_notional": 1.0e6}}  # fmt: skip
    config = write_live_config(tmp_path / "kimera.yaml", execution, **dex.sections())
    logs = tmp_path / "logs"
    logs.mkdir()
    env = dict(os.environ, KIMERA_CONFIG=str(config), KIMERA_HOME=str(kimera_home.home_dir), KIMERA_LOG_LEVEL="DEBUG",
               KIMERA_SECRET_EXECUTION_KEY_LOCAL=SIGNING_SECRET, PYTHONPATH=str(REPO_ROOT))  # fmt: skip
    secrets = {"exchange API key": API_KEY, "exchange API secret": API_SECRET, "signing secret": SIGNING_SECRET,
               "wallet key": dex.trader_key.removeprefix("0x")}  # fmt: skip
    with (logs / "service.out").open("w") as out, (logs / "service.err").open("w") as err:
        service = subprocess.Popen([sys.executable, "-m", "kimera", "execute"], cwd=REPO_ROOT, env=env,
                                   stdout=out, stderr=err)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/healthz", service, timeout=60)
        cli = logs / "cli.txt"
        body = json.dumps(signal(1, asset="ETH", forecast=0.02, width=0.004))
        traded = kimera("call", "POST", "/signals", "--data", body, env=env, out=cli)
        assert traded.returncode == 0 and '"outcome": "orders"' in traded.stdout, (
            traded.stdout + traded.stderr
        )
        auth = SignedAuth("local", SecretStr(SIGNING_SECRET))
        with httpx.Client(base_url=url, auth=auth, timeout=30) as client:
            assert client.post("/signals", json=signal(2, asset="BTC", forecast=0.01)).status_code == 200
            orders_now = client.get("/orders").json()
            assert {o["venue"] for o in orders_now} >= {"binance", "uni"}
            for venue in ("binance", "uni"):
                assert client.get(f"/venues/{venue}/balances").status_code == 200
            assert client.get(f"/orders/{orders_now[0]['client_order_id']}/trace").status_code == 200
            assert client.get("/reports/costs").status_code == 200
            assert (
                client.put(
                    "/killswitch", json={"state": "HALTED", "reason": "end of run", "cancel_open": True}
                ).status_code
                == 200
            )
            assert client.get("/audit/verify").json()["ok"] is True
        forged = httpx.post(
            f"{url}/signals",
            json=signal(3),
            headers=sign_request("POST", "/signals", b"{}", "local", "wrong-secret-123456"),
        )
        assert forged.status_code == 401 and httpx.post(f"{url}/signals", json=signal(3)).status_code == 401
        assert kimera("call", "GET", "/pnl", env=env, out=cli).returncode == 0
    finally:
        service.send_signal(signals.SIGTERM)
        try:
            service.wait(timeout=20)
        except subprocess.TimeoutExpired:
            service.kill()
            service.wait()
    assert kimera("audit", "verify", env=env, out=cli).returncode == 0
    assert kimera("costs", env=env, out=cli).returncode == 0
    written = [p for p in kimera_home.home_dir.rglob("*") if p.is_file()]
    names = {p.name for p in written}
    assert {"journal.sqlite", "uniswap_uni.sqlite", "execution_costs.png", "execution_costs.csv"} <= names, (
        names
    )
    service_log = (logs / "service.err").read_text()
    assert service_log.count("DEBUG") > 20, service_log[-2000:]  # the run did log, verbosely
    for path in [*written, *logs.iterdir(), config]:
        data = path.read_bytes()
        for what, value in secrets.items():
            form = find_secret(data, value)  # plain, base64, hex, URL-encoded, raw bytes of a hex key
            assert form is None, f"the {what} is in {path} ({form})"
