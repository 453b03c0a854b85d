"""The operator's second factor: TOTP codes once each, recovery codes once each, lockout that outlives a restart."""

from __future__ import annotations

import json
import stat

import httpx
import pyotp
import pytest
from click.testing import CliRunner
from pydantic import SecretStr

from execution.app import create_app
from execution.audit import entries
from execution.auth import ApiKeys, secure_app
from execution.second_factor import HEADER, Refused, SecondFactor
from kimera.app.cli import main
from kimera.config import ExecutionAuth
from kimera.settings import get_settings
from kimera.signing import SignedAuth

TOTP = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
T0 = 1_800_000_000.0  # a step boundary (divisible by 30)


class Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


def code_at(t: float) -> str:
    return pyotp.TOTP(TOTP).at(t)


def reason(factor: SecondFactor, code: str | None) -> str:
    with pytest.raises(Refused) as exc:
        factor.check(code, "release the kill switch")
    return exc.value.reason


def test_a_totp_code_passes_once_and_a_neighbouring_step_is_tolerated(tmp_path):
    clock = Clock(T0 + 5)
    factor = SecondFactor(TOTP, tmp_path / "2fa.json", clock=clock)
    assert factor.check(code_at(T0), "x") == "totp"
    assert reason(factor, code_at(T0)) == "reused"  # RFC 6238 5.2: one code, one use
    assert reason(factor, code_at(T0 - 30)) == "reused"  # nor an older one
    assert factor.check(code_at(T0 + 30), "x") == "totp"  # the next step (a clock a little ahead)
    clock.now = T0 + 300
    assert reason(factor, code_at(T0 + 60)) == "wrong"  # far out of its step
    assert reason(factor, None) == "missing"
    assert reason(factor, "12345") == "wrong"


def test_five_wrong_codes_lock_every_operator_action_even_after_a_restart_and_then_unlock(tmp_path):
    clock, path = Clock(T0), tmp_path / "2fa.json"
    factor = SecondFactor(TOTP, path, max_failures=5, lockout_s=300, clock=clock)
    factor.set_recovery_codes(["abcde-fghij"])
    wrong = "000000" if code_at(T0) != "000000" else "111111"
    assert [reason(factor, wrong) for _ in range(4)] == ["wrong"] * 4
    assert reason(factor, wrong) == "locked"
    clock.now += 30
    assert reason(factor, code_at(clock.now)) == "locked"  # the right code does not pass while locked
    assert reason(factor, "abcde-fghij") == "locked"  # nor a recovery code
    restarted = SecondFactor(TOTP, path, max_failures=5, lockout_s=300, clock=clock)
    assert reason(restarted, code_at(clock.now)) == "locked"
    assert restarted.status()["locked_for_s"] == pytest.approx(270)
    clock.now += 300
    assert restarted.check(code_at(clock.now), "x") == "totp"
    assert restarted.status()["failures"] == 0


def test_recovery_codes_pass_once_and_are_kept_only_as_hashes(tmp_path):
    path = tmp_path / "2fa.json"
    factor = SecondFactor(TOTP, path, clock=Clock(T0))
    factor.set_recovery_codes(["abcde-fghij", "klmno-pqrst"])
    assert factor.check("ABCDE-FGHIJ", "x") == "recovery"  # case and dashes do not matter
    assert reason(factor, "abcde-fghij") == "wrong"
    assert factor.status()["recovery_codes_left"] == 1
    text = path.read_text()
    assert "klmno" not in text and "pqrst" not in text and TOTP not in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_enrolment_prints_the_authenticator_uri_and_codes_and_key_creation_then_needs_a_code(
    kimera_home, tmp_path, monkeypatch
):
    monkeypatch.setenv("KIMERA_SECRETS_DIR", str(tmp_path / "secrets"))
    get_settings.cache_clear()
    runner = CliRunner()
    enrolled = runner.invoke(main, ["operator", "enrol"])
    assert enrolled.exit_code == 0, enrolled.output
    secret = (tmp_path / "secrets" / "operator_totp").read_text().strip()
    assert f"otpauth://totp/Kimera:operator?secret={secret}" in enrolled.output
    codes = [
        line.strip()
        for line in enrolled.output.splitlines()
        if len(line.strip()) == 11 and line.strip()[5] == "-"
    ]
    assert len(codes) == 10
    refused = runner.invoke(main, ["keys", "new", "ops2"])
    assert refused.exit_code == 2 and "second factor" in refused.output and "--otp" in refused.output
    assert not (tmp_path / "secrets" / "execution_key_ops2").exists()
    made = runner.invoke(main, ["keys", "new", "ops2", "--otp", pyotp.TOTP(secret).now()])
    assert made.exit_code == 0, made.output
    assert runner.invoke(main, ["audit", "new-key", "--otp", codes[0]]).exit_code == 0
    assert runner.invoke(main, ["audit", "new-key", "--otp", codes[0]]).exit_code == 2  # used up
    assert runner.invoke(main, ["operator", "enrol"]).exit_code == 2  # never replaced silently


# --- over HTTP, in front of the real app ----------------------------------------------------------
OPS = "ops-secret-7c1d2e9a4b6f8e0d3c5a"


@pytest.fixture
async def guarded(service, tmp_path):
    clock = Clock(T0)
    factor = SecondFactor(TOTP, tmp_path / "2fa.json", clock=clock)
    app = create_app(service, second_factor=factor)
    secure_app(app, ApiKeys({"ops": SecretStr(OPS)}), ExecutionAuth(keys=["ops"], client_key="ops"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://t", auth=SignedAuth("ops", SecretStr(OPS))
    ) as c:
        yield c, clock, service


async def test_releasing_the_kill_switch_and_changing_risk_limits_need_a_code(guarded):
    client, clock, service = guarded
    assert (
        await client.put("/killswitch", json={"state": "HALTED", "reason": "t"})
    ).status_code == 200  # halting: free
    release = {"state": "ACTIVE", "reason": "resume"}
    missing = await client.put("/killswitch", json=release)
    assert missing.status_code == 403 and missing.json()["reason"] == "missing"
    wrong = await client.put(
        "/killswitch", json=release, headers={HEADER: "000000" if code_at(T0) != "000000" else "1"}
    )
    assert wrong.status_code == 403 and wrong.json()["reason"] == "wrong"
    assert service.killswitch.state.value == "HALTED"
    ok = await client.put("/killswitch", json=release, headers={HEADER: code_at(T0)})
    assert ok.status_code == 200 and service.killswitch.state.value == "ACTIVE"

    limits = await client.put(
        "/risk/limits", json={"max_order_notional": 1234.0}, headers={HEADER: code_at(T0)}
    )
    assert limits.status_code == 403 and limits.json()["reason"] == "reused"
    clock.now += 30
    changed = await client.put(
        "/risk/limits", json={"max_order_notional": 1234.0}, headers={HEADER: code_at(clock.now)}
    )
    assert changed.status_code == 200 and changed.json()["max_order_notional"] == 1234.0
    assert service.risk.limits.max_order_notional == 1234.0
    assert (await client.get("/risk/limits")).json()["max_order_notional"] == 1234.0
    clock.now += 30
    bad = await client.put(
        "/risk/limits", json={"max_order_notional": -1}, headers={HEADER: code_at(clock.now)}
    )
    assert bad.status_code == 422 and "max_order_notional" in bad.text
    audited = [json.loads(e.record) for e in entries(service.journal.url, kinds=("risk_limits",))]
    assert [a["max_order_notional"] for a in audited] == [1234.0]


async def test_changed_risk_limits_outlive_a_restart(service):
    from execution.service import ExecutionService

    await service.set_risk_limits({"price_band_bps": 12.5})
    await service.stop()
    again = ExecutionService(service.config, service.settings)
    await again.start()
    try:
        assert again.cfg.risk.price_band_bps == 12.5 and again.risk.limits.price_band_bps == 12.5
        assert again.cfg.risk.max_order_notional == service.config.execution.risk.max_order_notional
    finally:
        await again.stop()
        await service.start()  # the fixture stops it once more
