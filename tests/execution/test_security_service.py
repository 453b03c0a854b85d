"""`kimera execute` as its own process with sealed secrets, an ML-DSA key, persisted nonces and checkpoints.

Issue 13 item 5 and issue 18: a request captured before a restart is refused after it; the audit
chain is anchored by signed checkpoints the public key alone verifies; no secret is on disk in
plaintext or in any log.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml
from click.testing import CliRunner
from pydantic import SecretStr

from kimera import pq
from kimera.app.cli import main
from kimera.sealing import OperatorKey, seal
from kimera.settings import get_settings
from kimera.signing import SignedAuth
from tests.execution.conftest import REPO_ROOT, signal, stop, wait_http
from tests.support.net import free_port

HMAC_SECRET = "sealed-execution-key-5e7a9c1b3d5f7a9c"
PASSPHRASE = "operator passphrase for the test"


def start(port: int, env: dict[str, str], log: Path) -> subprocess.Popen:
    out = log.open("ab")
    proc = subprocess.Popen([sys.executable, "-m", "execution.app", "--port", str(port)], cwd=REPO_ROOT, env=env,
                            stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    wait_http(f"http://127.0.0.1:{port}/healthz", proc, timeout=60)
    return proc


@pytest.mark.slow
def test_sealed_secrets_persisted_nonces_and_signed_checkpoints_across_a_restart(
    exec_env, paper, kimera_home, tmp_path, monkeypatch
):
    config_path, _ = exec_env
    secrets, operator_path = tmp_path / "secrets", tmp_path / "operator" / "operator.key"
    operator = OperatorKey.generate()
    operator.save(operator_path, PASSPHRASE)
    quant_private, checkpoint_private = pq.new_private_text(), pq.new_private_text()
    secrets.mkdir()
    for name, value in (("execution_key_local", HMAC_SECRET), ("audit_checkpoint_key", checkpoint_private)):
        (secrets / f"{name}.sealed").write_text(seal(value, name, operator.public))
    quant_public = tmp_path / "quant.pub"
    quant_public.write_bytes(pq.public_pem(pq.private_key(quant_private)))
    checkpoint_public = tmp_path / "audit_checkpoint.pub"
    checkpoint_public.write_bytes(pq.public_pem(pq.private_key(checkpoint_private)))
    config = yaml.safe_load(config_path.read_text())
    config["execution"]["auth"] = {"keys": ["local", "quant"], "client_key": "local", "public_keys": {"quant": str(quant_public)}}  # fmt: skip
    config["execution"]["audit"] = {"checkpoint_every": 5}
    config_path.write_text(yaml.safe_dump(config))
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIMERA_SECRET_")}
    env.update(PYTHONPATH=str(REPO_ROOT), KIMERA_CONFIG=str(config_path), KIMERA_HOME=str(kimera_home.home_dir),
               KIMERA_SECRETS_DIR=str(secrets), KIMERA_OPERATOR_KEY=str(operator_path),
               KIMERA_OPERATOR_PASSPHRASE=PASSPHRASE, KIMERA_LOG_LEVEL="DEBUG")  # fmt: skip
    port, log = free_port(), tmp_path / "service.log"
    url = f"http://127.0.0.1:{port}"

    proc = start(port, env, log)
    try:
        with httpx.Client(
            base_url=url, auth=SignedAuth("local", SecretStr(HMAC_SECRET)), timeout=30
        ) as client:
            for i in range(3):
                assert client.post("/signals", json=signal(i)).status_code == 200
        quant = SignedAuth("quant", SecretStr(quant_private))
        with httpx.Client(base_url=url, timeout=30) as client:
            sent = next(quant.auth_flow(client.build_request("PUT", "/killswitch", json={"state": "REDUCING", "reason": "t"})))  # fmt: skip
            assert client.send(sent).status_code == 200
        token = re.search(r"/status\?view=([A-Za-z0-9_\-]+)", log.read_text()).group(1)
        shown = httpx.get(f"{url}/status", params={"view": token, "format": "json"}, timeout=10).json()
        assert shown["audit_checkpoint"]["seq"] >= 5 and shown["audit_checkpoint"]["reason"] == "every"
    finally:
        stop(proc)

    proc = start(port, env, log)  # a restart: the nonce of the captured request is still remembered
    try:
        replay = httpx.Client(base_url=url, timeout=30).send(sent)
        assert replay.status_code == 401 and replay.json()["reason"] == "replayed"
    finally:
        stop(proc)

    monkeypatch.setenv("KIMERA_CONFIG", str(config_path))
    get_settings.cache_clear()
    verified = CliRunner().invoke(main, ["audit", "verify", "--public-key", str(checkpoint_public)])
    assert verified.exit_code == 0, verified.output
    assert "signed checkpoints verify" in verified.output and "audit log OK" in verified.output
    anchors = (kimera_home.home_dir / "audit" / "checkpoints.jsonl").read_text()
    assert '"reason":"close"' in anchors  # each stop signed the head it left

    on_disk = [p for root in (kimera_home.home_dir, secrets) for p in root.rglob("*") if p.is_file()]
    for secret in (HMAC_SECRET, quant_private, checkpoint_private, PASSPHRASE):
        for path in [*on_disk, log]:
            assert secret.encode() not in path.read_bytes(), f"{path} holds a secret"
