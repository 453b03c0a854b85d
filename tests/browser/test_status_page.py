"""The execution service's live status page in a real browser: ``kimera execute`` prints its URL (with
the view token), the page shows positions, orders, P&L, latency and the kill switch, refreshes itself
when the switch flips, and stays shut to anyone without the token."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO_ROOT
from tests.execution.conftest import FAST, service_env, signal, signed_client, write_config
from tests.support.dagster_ui import stop
from tests.support.net import free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def execution(kimera_home, tmp_path: Path):
    """``kimera execute`` (with its paper venue server) on free ports; yields (base URL, status URL)."""
    paper_port, port = free_port(), free_port()
    cfg = {
        **FAST,
        "port": port,
        "paper": {**FAST["paper"], "url": f"http://127.0.0.1:{paper_port}", "port": paper_port},
    }
    config = write_config(tmp_path / "kimera.yaml", cfg)
    log_path = tmp_path / "execute.log"
    env = service_env(KIMERA_CONFIG=str(config), PYTHONUNBUFFERED="1")  # with the API key's secret
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "kimera", "execute"],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # the paper venue server it starts leaves with it
        )
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
        printed = re.search(r"status page: (\S+)", log_path.read_text())
        assert printed, f"kimera execute printed no status URL:\n{log_path.read_text()[-2000:]}"
        yield base, printed.group(1)
    finally:
        stop(server)


def test_the_status_page_shows_the_account_and_follows_the_kill_switch(
    execution, browser_page, artifacts: Path
) -> None:
    base, status_url = execution
    assert status_url.startswith(f"{base}/status?view=")
    token = status_url.split("view=", 1)[1]

    # Shut without the token, as HTML and as JSON.
    assert httpx.get(f"{base}/status", timeout=10).status_code == 401
    assert httpx.get(f"{base}/status?view=wrong-token&format=json", timeout=10).status_code == 401

    api = signed_client(base_url=base, timeout=30)  # the API wants signed requests; the page does not
    answers = [
        api.post("/signals", json=signal(1, "BTC", forecast=0.004, width=0.004)).json(),
        api.post("/signals", json=signal(2, "ETH", forecast=-0.004, width=0.004)).json(),
    ]
    # The view token opens the page, and nothing else.
    assert httpx.get(f"{base}/positions?view={token}", timeout=10).status_code == 401
    assert [a["outcome"] for a in answers] == ["orders", "orders"], answers
    deadline = time.monotonic() + 30
    while True:  # fills reach the position a moment after the order's answer
        snapshot = httpx.get(f"{base}/status?view={token}&format=json", timeout=10).json()
        held = {p["asset"]: p["quantity"] for p in snapshot["positions"]}
        if all(float(q) != 0 for q in held.values()):
            break
        assert time.monotonic() < deadline, snapshot
        time.sleep(0.2)
    assert snapshot["signals"] == 2 and snapshot["kill_switch"]["state"] == "ACTIVE"
    assert float(held["BTC"]) > 0 > float(held["ETH"])

    page = browser_page
    page.goto(status_url)
    assert page.url == f"{base}/status", "the token should leave the address bar"
    page.locator("#kill-switch", has_text="ACTIVE").wait_for(timeout=30_000)
    for asset, quantity in held.items():  # long BTC, short ETH, as the fills made them
        row = page.locator("#positions tr", has_text=asset)
        assert row.locator("td").nth(1).inner_text() == quantity
    assert page.locator("#orders tr").count() >= 3  # header and one row per child order
    assert page.locator("#latency td", has_text="signal_to_ack").count() == 1
    page.get_by_text("P&L").first.wait_for()
    page.screenshot(path=str(artifacts / "execution-status-active.png"), full_page=True)

    halted = api.put("/killswitch", json={"state": "HALTED", "reason": "browser test", "cancel_open": True})
    assert halted.status_code == 200, halted.text
    # The page refreshes itself (every 2 s): the new state shows without touching the browser.
    page.locator("#kill-switch", has_text="HALTED").wait_for(timeout=15_000)
    assert "browser test" in page.content()
    page.screenshot(path=str(artifacts / "execution-status-halted.png"), full_page=True)
