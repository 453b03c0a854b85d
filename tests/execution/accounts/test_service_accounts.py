"""The execution service with accounts configured: a signal is decided for the strategy's account
and its followers, routed and sent by the service; fills land in each account; the status API
shows the accounts; the trace names the strategy; a restart rebuilds each account's book."""

from __future__ import annotations

import asyncio
import time

import httpx
import orjson
import pytest
from pydantic import SecretStr

from execution.app import create_app
from execution.auth import ApiKeys, secure_app
from execution.service import ExecutionService
from kimera.config import ExecutionAuth, load_config
from kimera.settings import get_settings
from kimera.signing import sign_request
from tests.execution.conftest import FAST, signal, start_paper, stop, write_config
from tests.support.net import free_port

ACCOUNTS = {
    "accounts": [
        {
            "name": "fund",
            "capital": 100_000,
            "portfolio": {"max_net_notional": 100_000},
            "api_keys": ["fundkey"],
        },
        {"name": "copier", "capital": 20_000, "api_keys": ["copierkey"]},
        {"name": "tiny", "capital": 20_000, "portfolio": {"max_gross_notional": 10}},
    ],
    "strategies": [
        {"name": "lstm_btc", "account": "fund", "capital_share": 0.5},
        {"name": "lstm_eth", "account": "fund", "capital_share": 0.5},
    ],
    "followers": [
        {"follower": "copier", "leader": "lstm_btc", "rule": "equity_fraction", "value": 0.5},
        {"follower": "tiny", "leader": "lstm_btc", "rule": "equity_fraction", "value": 1.0},
    ],
}


@pytest.fixture
def accounts_env(kimera_home, tmp_path, monkeypatch):
    port = free_port()
    cfg = {**FAST, **ACCOUNTS, "paper": {**FAST["paper"], "url": f"http://127.0.0.1:{port}", "port": port}}
    path = write_config(tmp_path / "kimera.yaml", cfg)
    monkeypatch.setenv("KIMERA_CONFIG", str(path))
    get_settings.cache_clear()
    server = start_paper(path, port)
    try:
        yield path
    finally:
        stop(server.proc)


async def _settled(service: ExecutionService, timeout: float = 30.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline and not all(o.settled for o in service.oms.orders.values()):
        await service.oms.reconcile()
        await asyncio.sleep(0.2)
    assert all(o.settled for o in service.oms.orders.values())


def _books(service: ExecutionService) -> dict[tuple[str, str], str]:
    return {
        (a.name, b.name): str(b.portfolio.quantity(asset))
        for a in service.accounts.desk.account_list
        for b in a.books.values()
        for asset in ("BTC", "ETH")
        if b.portfolio.quantity(asset)
    }


async def test_a_signal_trades_for_its_account_and_followers_and_survives_a_restart(accounts_env):
    service = ExecutionService(load_config(accounts_env), get_settings())
    await service.start()
    try:
        answer = await service.handle_signal(signal(1, strategy="lstm_btc"))
        eth = await service.handle_signal(signal(2, asset="ETH", strategy="lstm_eth"))
        await _settled(service)
        by_account = {a["account"]: a for a in answer["accounts"]}
        assert by_account["fund"]["outcome"] == "orders" and by_account["copier"]["outcome"] == "orders"
        assert by_account["tiny"]["rule"] == "gross_exposure" and eth["outcome"] == "orders"
        assert any(
            r["reason"] == "gross_exposure" and r["detail"].startswith("tiny:") for r in answer["refusals"]
        )
        before = _books(service)
        assert set(before) == {("fund", "lstm_btc"), ("fund", "lstm_eth"), ("copier", "copy:lstm_btc")}
        app = create_app(service)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            status = (await c.get("/accounts")).json()
            child = next(o for o in service.oms.orders.values() if o.fill_ids and o.parent_id == by_account["copier"]["parent_id"])  # fmt: skip
            trace = (await c.get(f"/orders/{child.client_order_id}/trace")).json()
            ghost = await c.post("/signals", json=signal(3, strategy="ghost"))
            same = await c.post("/signals", json=signal(4, strategy="lstm_btc"))
        assert ghost.status_code == 422 and "strategy 'ghost' is not configured" in ghost.json()["message"]
        assert same.status_code == 200 and [a["account"] for a in same.json()["accounts"]] == [
            "fund",
            "copier",
            "tiny",
        ]
        assert (
            set(status["accounts"]) == {"fund", "copier", "tiny"}
            and status["accounts"]["tiny"]["state"] == "ACTIVE"
        )
        assert [(f["follower"], f["leader"]) for f in status["followers"]] == [
            ("copier", "lstm_btc"),
            ("tiny", "lstm_btc"),
        ]
        prov = trace["provenance"]
        assert (prov["account"], prov["strategy"], prov["book"], prov["leader_signal_id"]) == ("copier", "lstm_btc", "copy:lstm_btc", "sig-1")  # fmt: skip
        filled = {o.parent_id: o.filled for o in service.oms.orders.values()}
        await _settled(service)  # signal 4 may have topped the books up (the last order was capped)
        before = _books(service)
    finally:
        await service.stop()
    again = ExecutionService(load_config(accounts_env), get_settings())
    await again.start()
    try:
        assert _books(again) == before  # every account's book rebuilt from the journal
        rows = await again.journal_rows("SELECT account, SUM(CAST(amount AS REAL)) FROM account_fills GROUP BY account ORDER BY account")  # fmt: skip
        assert [r[0] for r in rows] == ["copier", "fund"]
        assert filled  # orders were filled before the restart
    finally:
        await again.stop()


async def test_without_accounts_the_status_api_says_so(service):
    app = create_app(service)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        r = await c.get("/accounts")
    assert r.status_code == 404 and r.json()["error"] == "no_accounts" and service.accounts is None


async def test_an_accounts_api_key_signals_only_for_its_own_accounts_strategies(accounts_env):
    secrets = {"fundkey": "fund-secret-0123456789abcdef", "copierkey": "copier-secret-0123456789abcdef"}
    service = ExecutionService(load_config(accounts_env), get_settings())
    await service.start()
    try:
        app = create_app(service)
        keys = ApiKeys({k: SecretStr(v) for k, v in secrets.items()})
        secure_app(app, keys, ExecutionAuth(keys=list(secrets), client_key="fundkey"))

        async def post(key: str, body: dict) -> httpx.Response:
            raw = orjson.dumps(body)
            headers = {
                **sign_request("POST", "/signals", raw, key, secrets[key]),
                "content-type": "application/json",
            }
            return await c.post("/signals", content=raw, headers=headers)

        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            foreign = await post("copierkey", signal(1, strategy="lstm_btc"))
            own = await post("fundkey", signal(2, strategy="lstm_btc"))
        assert foreign.status_code == 403 and foreign.json()["error"] == "wrong_account"
        assert "acts for account 'copier'" in foreign.json()["message"]
        assert own.status_code == 200 and own.json()["accounts"][0]["account"] == "fund"
        assert "sig-1" not in service.signals  # refused before anything was decided or journaled
    finally:
        await service.stop()
