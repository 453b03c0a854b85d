"""The status page's controls in a real browser: a TOTP code opens them, then the operator halts, releases
and changes a risk limit; wrong codes lock every operator action, in the page and over the API."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pyotp
import pytest

from execution.second_factor import HEADER
from tests.conftest import REPO_ROOT
from tests.execution.conftest import FAST, service_env, signed_client, write_config
from tests.support.dagster_ui import stop
from tests.support.net import free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TOTP = pyotp.random_base32(32)


def wrong_code() -> str:
    """Six digits that are no valid code in the steps around now."""
    now = time.time()
    valid = {pyotp.TOTP(TOTP).at(now + d) for d in (-60, -30, 0, 30, 60)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in valid)


@pytest.fixture
def execution(kimera_home, tmp_path: Path):
    """``kimera execute`` with an enrolled second factor; yields (base URL, status URL)."""
    paper_port, port = free_port(), free_port()
    cfg = {**FAST, "port": port, "paper": {**FAST["paper"], "url": f"http://127.0.0.1:{paper_port}", "port": paper_port}}  # fmt: skip
    config = write_config(tmp_path / "kimera.yaml", cfg)
    log_path = tmp_path / "execute.log"
    env = service_env(KIMERA_CONFIG=str(config), PYTHONUNBUFFERED="1", KIMERA_SECRET_OPERATOR_TOTP=TOTP)
    with log_path.open("w") as log:
        server = subprocess.Popen([sys.executable, "-m", "kimera", "execute"], cwd=REPO_ROOT, env=env, stdout=log,
                                  stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, log_path.read_text()[-3000:]
            try:
                if httpx.get(f"{base}/healthz", timeout=1).json().get("status") == "ok":
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, log_path.read_text()[-3000:]
            time.sleep(0.25)
        text = log_path.read_text()
        assert (
            "operator actions (kill switch release, risk limits, status page controls) need a second factor"
            in text
        )
        yield base, re.search(r"status page: (\S+)", text).group(1)
    finally:
        stop(server)
    assert TOTP not in log_path.read_text()


def test_a_code_opens_the_controls_and_wrong_codes_lock_every_operator_action(
    execution, browser_page, artifacts
):
    base, status_url = execution
    page = browser_page
    page.goto(status_url)
    page.click("#controls")
    page.locator("#unlock").wait_for(timeout=15_000)
    # without the view token's cookie, nothing: the controls are not a way around the status page
    assert httpx.get(f"{base}/status/controls", timeout=10).status_code == 401
    assert (
        httpx.post(f"{base}/status/controls/killswitch", data={"state": "ACTIVE"}, timeout=10).status_code
        == 401
    )

    page.fill("#code", wrong_code())
    page.click("#unlock button")
    assert "4 tries left" in page.locator("#message").inner_text()
    page.fill("#code", pyotp.TOTP(TOTP).now())
    page.click("#unlock button")
    page.locator("#kill-switch", has_text="ACTIVE").wait_for(timeout=15_000)

    page.fill("#reason", "browser halt")
    page.click("#switch-halted")
    page.locator("#kill-switch", has_text="HALTED").wait_for(timeout=15_000)
    api = signed_client(base_url=base, timeout=30)
    assert api.get("/killswitch").json()["state"] == "HALTED"
    page.screenshot(path=str(artifacts / "execution-controls-halted.png"), full_page=True)
    page.click("#switch-active")  # released from inside the session the code opened
    page.locator("#kill-switch", has_text="ACTIVE").wait_for(timeout=15_000)
    page.fill("#max_order_notional", "4321")
    page.click("#risk button")
    page.locator("#max_order_notional[value='4321']").wait_for(timeout=15_000)
    assert api.get("/risk/limits").json()["max_order_notional"] == 4321.0

    # a new browser session (the controls' cookie gone) must pass the code again; five wrong ones lock
    page.context.clear_cookies()
    page.goto(status_url)
    page.goto(f"{base}/status/controls")
    for _ in range(5):
        page.fill("#code", wrong_code())
        page.click("#unlock button")
    assert "locked" in page.locator("#message").inner_text()
    page.fill("#code", pyotp.TOTP(TOTP).now())
    page.click("#unlock button")
    assert "locked" in page.locator("#message").inner_text()
    assert page.locator("#kill-switch").count() == 0
    page.screenshot(path=str(artifacts / "execution-controls-locked.png"), full_page=True)
    # the lockout holds over the API too: halting is free, releasing is not
    assert api.put("/killswitch", json={"state": "HALTED", "reason": "t"}).status_code == 200
    locked = api.put(
        "/killswitch", json={"state": "ACTIVE", "reason": "t"}, headers={HEADER: pyotp.TOTP(TOTP).now()}
    )
    assert locked.status_code == 403 and locked.json()["reason"] == "locked"
    api.close()


def test_a_security_key_added_after_a_code_then_opens_the_controls_alone(execution, browser_page, artifacts):
    base, status_url = execution
    # WebAuthn needs a domain as relying party: the same service, reached as localhost
    base = base.replace("127.0.0.1", "localhost")
    status_url = status_url.replace("127.0.0.1", "localhost")
    page = browser_page
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    authenticator = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "usb", "hasResidentKey": False, "hasUserVerification": True,
        "isUserVerified": True, "automaticPresenceSimulation": True}})["authenticatorId"]  # fmt: skip
    page.goto(status_url)
    page.goto(f"{base}/status/controls")
    # no key yet: the button says so and the controls stay shut
    page.click("#key-unlock")
    page.locator("#key-message", has_text="no security key is registered").wait_for(timeout=15_000)
    page.fill("#code", pyotp.TOTP(TOTP).now())
    page.click("#unlock button")
    page.click("#key-register")
    page.locator("#key-message", has_text="security key added").wait_for(timeout=30_000)
    assert len(cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]) == 1

    page.context.clear_cookies()  # a new session: the key alone opens the controls
    page.goto(status_url)
    page.goto(f"{base}/status/controls")
    sent = []
    page.on("request", lambda r: sent.append(r.post_data) if r.url.endswith("/security-key/unlock") else None)
    page.click("#key-unlock")
    page.locator("#kill-switch").wait_for(timeout=30_000)
    page.click("#switch-halted")
    page.locator("#kill-switch", has_text="HALTED").wait_for(timeout=15_000)
    page.screenshot(path=str(artifacts / "execution-controls-security-key.png"), full_page=True)

    # a captured assertion opens nothing: its challenge was used, and a fresh challenge needs a fresh signature
    token = status_url.split("view=", 1)[1]
    with httpx.Client(
        base_url=base, cookies={"kimera_view": token}, headers={"origin": base}, timeout=30
    ) as thief:
        replayed = thief.post("/status/controls/security-key/unlock", content=sent[0])
        assert replayed.status_code == 403 and "no challenge pending" in replayed.json()["message"]
        assert thief.post("/status/controls/security-key/unlock-options").status_code == 200
        again = thief.post("/status/controls/security-key/unlock", content=sent[0])
        assert again.status_code == 403 and "does not verify" in again.json()["message"]
        assert "kimera_controls" not in thief.cookies
