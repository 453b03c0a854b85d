"""ML-DSA-65 API keys: the client signs, the service holds only the public key, the same replay window."""

from __future__ import annotations

import time

import httpx
import pytest
from click.testing import CliRunner
from pydantic import SecretStr

from execution.app import create_app
from execution.auth import ApiKeys, Unauthorized, Verifier, secure_app
from execution.nonces import NonceStore
from kimera import pq
from kimera.app.cli import main
from kimera.config import ConfigError, ExecutionAuth
from kimera.signing import SignedAuth, client_auth, sign_request
from tests.execution.conftest import signal

HMAC_SECRET = "ops-secret-7c1d2e9a4b6f8e0d3c5a"


@pytest.fixture(scope="module")
def pq_private() -> str:
    return pq.new_private_text()


def verifier(pq_private: str, **kw) -> Verifier:
    public = pq.private_key(pq_private).public_key()
    return Verifier(ApiKeys({"ops": SecretStr(HMAC_SECRET)}, {"quant": public}), **kw)


def lower(headers: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def refused(v: Verifier, method: str, target: str, headers: dict, body: bytes = b"", now=None) -> str:
    with pytest.raises(Unauthorized) as exc:
        v.verify(method, target, headers, body, now=now)
    return exc.value.reason


def test_an_ml_dsa_signed_change_is_accepted_once_and_any_alteration_is_refused(pq_private):
    v = verifier(pq_private)
    body = b'{"state": "HALTED"}'
    h = lower(sign_request("PUT", "/killswitch", body, "quant", pq_private))
    assert len(h["x-kimera-signature"]) == pq.SIGNATURE_B64_CHARS
    assert v.verify("PUT", "/killswitch", h, body) == "quant"
    assert refused(v, "PUT", "/killswitch", h, body) == "replayed"
    h = lower(sign_request("PUT", "/killswitch", body, "quant", pq_private))
    assert refused(v, "PUT", "/killswitch", h, b'{"state": "ACTIVE"}') == "forged"
    assert refused(v, "PUT", "/killswitch?x=1", h, body) == "forged"
    other = pq.new_private_text()  # somebody else's ML-DSA key, claiming to be "quant"
    assert refused(v, "PUT", "/killswitch", lower(sign_request("PUT", "/killswitch", body, "quant", other)), body) == "forged"  # fmt: skip
    # an HMAC signature is no signature for an ML-DSA key id, and the other way round
    hmac_signed = lower(sign_request("PUT", "/killswitch", body, "quant", HMAC_SECRET))
    assert refused(v, "PUT", "/killswitch", hmac_signed, body) == "bad_signature"
    pq_for_hmac = lower(sign_request("PUT", "/killswitch", body, "ops", pq_private))
    assert refused(v, "PUT", "/killswitch", pq_for_hmac, body) == "bad_signature"
    now = time.time()
    stale = lower(
        sign_request("POST", "/signals", b"{}", "quant", pq_private, timestamp_ms=int((now - 31) * 1000))
    )
    assert refused(v, "POST", "/signals", stale, b"{}", now=now) == "stale"


def test_keys_new_ml_dsa_writes_a_private_key_for_the_client_and_a_public_key_for_the_service(
    kimera_home, tmp_path, monkeypatch
):
    from kimera.settings import get_settings

    monkeypatch.setenv("KIMERA_SECRETS_DIR", str(tmp_path / "secrets"))
    get_settings.cache_clear()
    made = CliRunner().invoke(main, ["keys", "new", "quant", "--alg", "ml-dsa-65"])
    assert made.exit_code == 0, made.output
    private = (tmp_path / "secrets" / "execution_key_quant").read_text().strip()
    public_path = get_settings().home_dir / "keys" / "quant.pub"
    assert private.startswith("ml-dsa-65:") and private not in made.output
    assert f"public_keys: {{quant: {public_path}}}" in made.output
    # the service's side: only the public key, no secret for the id
    monkeypatch.delenv("KIMERA_SECRETS_DIR")
    get_settings.cache_clear()
    cfg = ExecutionAuth(keys=["quant"], client_key="quant", public_keys={"quant": public_path})
    keys = ApiKeys.load(cfg, get_settings())
    assert keys.ids() == ["quant"] and keys.secret("quant") is None
    headers = lower(sign_request("POST", "/signals", b"{}", "quant", private))
    assert Verifier(keys).verify("POST", "/signals", headers, b"{}") == "quant"
    assert CliRunner().invoke(main, ["keys", "new", "quant", "--alg", "ml-dsa-65"]).exit_code == 2


def test_a_public_key_that_is_missing_wrong_or_not_configured_is_a_clear_error(kimera_home, tmp_path):
    with pytest.raises(ConfigError, match="no public key file at"):
        ApiKeys.load(ExecutionAuth(keys=["quant"], client_key="quant", public_keys={"quant": tmp_path / "x.pub"}), kimera_home)  # fmt: skip
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    ed = tmp_path / "ed.pub"
    ed.write_bytes(ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))  # fmt: skip
    with pytest.raises(ConfigError, match="not an ML-DSA-65 public key"):
        ApiKeys.load(
            ExecutionAuth(keys=["quant"], client_key="quant", public_keys={"quant": ed}), kimera_home
        )
    with pytest.raises(ValueError, match=r"public_keys \['eve'\] are not in keys"):
        ExecutionAuth(keys=["local"], public_keys={"eve": ed})


async def test_over_http_a_client_with_an_ml_dsa_key_trades_and_its_captured_request_is_refused(
    service, pq_private
):
    app = create_app(service)
    keys = ApiKeys({}, {"quant": pq.private_key(pq_private).public_key()})
    secure_app(app, keys, ExecutionAuth(keys=["quant"], client_key="quant"), service.metrics.registry)
    transport = httpx.ASGITransport(app=app)
    auth = SignedAuth("quant", SecretStr(pq_private))
    async with httpx.AsyncClient(transport=transport, base_url="http://test", auth=auth) as c:
        assert (await c.post("/signals", json=signal(1))).status_code == 200
        sent = next(
            auth.auth_flow(c.build_request("PUT", "/killswitch", json={"state": "REDUCING", "reason": "t"}))
        )
        assert (await c.send(sent, auth=None)).status_code == 200
        assert "ML-DSA-65" in (await c.get("/openapi.json")).json()["info"]["description"]
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as attacker:
        replay = await attacker.send(sent)
        assert replay.status_code == 401 and replay.json()["reason"] == "replayed"


def test_client_auth_signs_with_ml_dsa_when_the_secret_is_an_ml_dsa_key(kimera_home, monkeypatch, pq_private):
    monkeypatch.setenv("KIMERA_SECRET_EXECUTION_KEY_QUANT", pq_private)
    auth = client_auth(kimera_home, "quant")
    request = next(auth.auth_flow(httpx.Request("POST", "http://x/signals", content=b"{}")))
    assert pq_private not in repr(auth)
    public = pq.private_key(pq_private).public_key()
    headers = {k.lower(): v for k, v in request.headers.items()}
    assert Verifier(ApiKeys({}, {"quant": public})).verify("POST", "/signals", headers, b"{}") == "quant"


def test_used_nonces_on_disk_survive_a_new_store_and_expire_with_their_window(tmp_path):
    path = tmp_path / "nonces.sqlite"
    first = NonceStore(path)
    first.use("ops", "a" * 32, now=100.0, expires_at=160.0)
    first.close()
    again = NonceStore(path)  # the service restarted
    with pytest.raises(Exception, match="a" * 32):
        again.use("ops", "a" * 32, now=120.0, expires_at=180.0)
    again.use("signals", "a" * 32, now=120.0, expires_at=180.0)  # nonces are per key
    again.use("ops", "a" * 32, now=161.0, expires_at=221.0)  # the window is over: the timestamp cannot pass
    again.close()
