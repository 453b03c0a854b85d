"""Who may call the service: key ids on every request, HMAC signatures on every change, no replays."""

from __future__ import annotations

import time

import httpx
import pytest
from pydantic import SecretStr

from execution.app import create_app
from execution.auth import ApiKeys, Unauthorized, Verifier, secure_app
from kimera.config import ConfigError, ExecutionAuth
from kimera.signing import KEY_HEADER, SignedAuth, sign_request
from tests.execution.conftest import signal

OPS = "ops-secret-7c1d2e9a4b6f8e0d3c5a"
SIGNALS = "signals-secret-2f4e6a8c0b1d3e5f7a9c"


def verifier(**kw) -> Verifier:
    return Verifier(ApiKeys({"ops": SecretStr(OPS), "signals": SecretStr(SIGNALS)}), **kw)


def headers_of(
    method: str, target: str, body: bytes, key: str = "ops", secret: str = OPS, **kw
) -> dict[str, str]:
    return {k.lower(): v for k, v in sign_request(method, target, body, key, secret, **kw).items()}


def refused(
    v: Verifier, method: str, target: str, headers: dict, body: bytes = b"", now: float | None = None
) -> str:
    with pytest.raises(Unauthorized) as exc:
        v.verify(method, target, headers, body, now=now)
    return exc.value.reason


def test_a_signed_change_is_accepted_once_and_any_alteration_is_refused():
    v = verifier()
    body = b'{"state": "HALTED"}'
    h = headers_of("PUT", "/killswitch", body)
    assert v.verify("PUT", "/killswitch", h, body) == "ops"
    assert refused(v, "PUT", "/killswitch", h, body) == "replayed"
    h = headers_of("PUT", "/killswitch", body)
    assert refused(v, "PUT", "/killswitch", h, b'{"state": "ACTIVE"}') == "forged"  # body changed
    assert refused(v, "POST", "/killswitch", h, body) == "forged"  # method changed
    assert refused(v, "PUT", "/killswitch?x=1", h, body) == "forged"  # target changed
    assert refused(v, "PUT", "/killswitch", {**h, "x-kimera-key": "signals"}, body) == "forged"  # other key
    wrong = headers_of("PUT", "/killswitch", body, secret="not-the-secret-000000")
    assert refused(v, "PUT", "/killswitch", wrong, body) == "forged"


def test_unsigned_changes_unknown_keys_and_missing_keys_are_refused_but_reads_need_only_a_key_id():
    v = verifier()
    assert refused(v, "POST", "/signals", {"x-kimera-key": "ops"}, b"{}") == "unsigned"
    assert refused(v, "GET", "/orders", {}) == "missing_key"
    assert refused(v, "GET", "/orders", {"x-kimera-key": "eve"}) == "unknown_key"
    assert v.verify("GET", "/orders?state=filled", {"x-kimera-key": "signals"}, b"") == "signals"
    strict = verifier(signed_reads=True)
    assert refused(strict, "GET", "/orders", {"x-kimera-key": "ops"}) == "unsigned"
    assert strict.verify("GET", "/orders", headers_of("GET", "/orders", b""), b"") == "ops"


def test_timestamps_outside_the_window_are_refused_and_nonces_are_remembered_for_it():
    v = verifier(window_s=30)
    now = time.time()
    old = headers_of("POST", "/signals", b"{}", timestamp_ms=int((now - 31) * 1000))
    assert refused(v, "POST", "/signals", old, b"{}", now=now) == "stale"
    ahead = headers_of("POST", "/signals", b"{}", timestamp_ms=int((now + 31) * 1000))
    assert refused(v, "POST", "/signals", ahead, b"{}", now=now) == "stale"
    # a request signed 29 s ahead of our clock is valid until 59 s from now: its nonce is kept that long
    early = headers_of("POST", "/signals", b"{}", timestamp_ms=int((now + 29) * 1000), nonce="n" * 32)
    assert v.verify("POST", "/signals", early, b"{}", now=now) == "ops"
    assert refused(v, "POST", "/signals", early, b"{}", now=now + 58) == "replayed"


def test_malformed_auth_headers_are_refused_with_a_reason():
    v = verifier()
    good = headers_of("POST", "/signals", b"{}")
    assert refused(v, "POST", "/signals", {**good, "x-kimera-timestamp": "soon"}, b"{}") == "bad_timestamp"
    assert refused(v, "POST", "/signals", {**good, "x-kimera-nonce": "short"}, b"{}") == "bad_nonce"
    assert refused(v, "POST", "/signals", {**good, "x-kimera-signature": "zz"}, b"{}") == "bad_signature"


def test_several_keys_are_accepted_while_rotating(kimera_home, monkeypatch):
    monkeypatch.setenv("KIMERA_SECRET_EXECUTION_KEY_OLD", OPS)
    monkeypatch.setenv("KIMERA_SECRET_EXECUTION_KEY_NEW", SIGNALS)
    both = Verifier(ApiKeys.load(ExecutionAuth(keys=["old", "new"], client_key="new"), kimera_home))
    for key, secret in (("old", OPS), ("new", SIGNALS)):
        assert both.verify("POST", "/x", headers_of("POST", "/x", b"", key, secret), b"") == key
    after = Verifier(ApiKeys.load(ExecutionAuth(keys=["new"], client_key="new"), kimera_home))
    assert refused(after, "POST", "/x", headers_of("POST", "/x", b"", "old", OPS)) == "unknown_key"
    assert "secret" not in repr(both.keys).lower() and OPS not in repr(both.keys)


def test_a_missing_or_weak_key_stops_the_service_from_starting_with_a_clear_message(kimera_home, monkeypatch):
    with pytest.raises(ConfigError, match="KIMERA_SECRET_EXECUTION_KEY_LOCAL"):
        ApiKeys.load(ExecutionAuth(), kimera_home)
    monkeypatch.setenv("KIMERA_SECRET_EXECUTION_KEY_LOCAL", "short")
    with pytest.raises(ValueError, match="too short"):
        ApiKeys.load(ExecutionAuth(), kimera_home)
    with pytest.raises(ValueError, match="client_key"):
        ExecutionAuth(keys=["a"], client_key="b")


# --- over HTTP, in front of the real app ------------------------------------------------------------
@pytest.fixture
async def app(service):
    application = create_app(service)
    keys = ApiKeys({"ops": SecretStr(OPS)})
    secure_app(application, keys, ExecutionAuth(keys=["ops"], client_key="ops"), service.metrics.registry)
    return application


async def test_over_http_only_healthz_and_metrics_are_open(app):
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as anonymous:
        assert (await anonymous.get("/healthz")).status_code == 200
        assert (await anonymous.get("/metrics")).status_code == 200
        for method, path in (("GET", "/orders"), ("GET", "/openapi.json"), ("GET", "/docs"),
                             ("POST", "/signals"), ("PUT", "/killswitch"), ("GET", "/no/such/route")):  # fmt: skip
            r = await anonymous.request(method, path, json={} if method != "GET" else None)
            assert r.status_code == 401, (method, path)
            assert r.json()["reason"] == "missing_key" and r.headers["www-authenticate"].startswith(
                "KimeraHMAC"
            )
        forged = await anonymous.post(
            "/signals", json=signal(1), headers=sign_request("POST", "/signals", b"x", "ops", OPS)
        )
        assert forged.status_code == 401 and forged.json()["reason"] == "forged"
        assert OPS not in forged.text
        metrics = (await anonymous.get("/metrics")).text
        assert 'kimera_execution_auth_refusals_total{reason="forged"} 1.0' in metrics


async def test_over_http_a_signed_client_trades_and_a_captured_request_cannot_be_replayed(app):
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://test", auth=SignedAuth("ops", SecretStr(OPS))
    ) as c:
        r = await c.post("/signals", json=signal(1))
        assert r.status_code == 200 and r.json()["signal_id"] == "sig-1"
        assert (await c.get("/orders", params={"state": "filled"})).status_code == 200
        schema = (await c.get("/openapi.json")).json()
        assert schema["paths"]["/signals"]["post"]["security"] == [
            {"KeyId": [], "Timestamp": [], "Nonce": [], "Signature": []}
        ]
        assert schema["paths"]["/orders"]["get"]["security"] == [{"KeyId": []}]
        sent = c.build_request("PUT", "/killswitch", json={"state": "REDUCING", "reason": "test"})
        sent = next(SignedAuth("ops", SecretStr(OPS)).auth_flow(sent))
        assert (await c.send(sent, auth=None)).status_code == 200
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as attacker:
        replay = await attacker.send(sent)
        assert replay.status_code == 401 and replay.json()["reason"] == "replayed"
        assert (await attacker.get("/orders", headers={KEY_HEADER: "ops"})).status_code == 200


def test_kimera_execute_refuses_to_start_without_a_key_and_keys_new_makes_one(
    kimera_home, tmp_path, monkeypatch
):
    import stat

    from click.testing import CliRunner

    from kimera.app.cli import main
    from kimera.settings import get_settings

    runner = CliRunner()
    refused = runner.invoke(main, ["execute", "--port", "1"])
    assert refused.exit_code == 2 and "KIMERA_SECRET_EXECUTION_KEY_LOCAL" in refused.output
    printed = runner.invoke(main, ["keys", "new", "local"])
    assert printed.exit_code == 0 and "export KIMERA_SECRET_EXECUTION_KEY_LOCAL=" in printed.output
    monkeypatch.setenv("KIMERA_SECRETS_DIR", str(tmp_path / "secrets"))
    get_settings.cache_clear()
    made = runner.invoke(main, ["keys", "new", "local"])
    path = tmp_path / "secrets" / "execution_key_local"
    assert made.exit_code == 0 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip() not in made.output  # written, not shown
    keys = ApiKeys.load(ExecutionAuth(), get_settings())
    assert keys.secret("local").get_secret_value() == path.read_text().strip()
    assert runner.invoke(main, ["keys", "new", "local"]).exit_code == 2  # never overwritten silently
