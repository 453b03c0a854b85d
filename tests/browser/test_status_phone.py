"""The status page on a phone (390 x 844): positions, P&L, alerts and the kill switch fit the width and
work; it installs as an app (manifest, service worker) and says so when the service cannot be reached."""

from __future__ import annotations

from pathlib import Path

import httpx
import pyotp
import pytest

from tests.browser.test_status_controls import TOTP, execution  # noqa: F401  (fixture: kimera execute + TOTP)
from tests.execution.conftest import signal, signed_client

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _fits_the_width(page) -> None:
    """Nothing makes the page scroll sideways (wide tables scroll inside their own box)."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width} px wide at a 390 px viewport"


def test_the_status_page_works_at_a_phones_width_and_offline(execution, phone_page, artifacts: Path) -> None:  # noqa: F811
    base, status_url = execution
    api = signed_client(base_url=base, timeout=30)
    answer = api.post("/signals", json=signal(1, "BTC", forecast=0.004, width=0.004)).json()
    assert answer["outcome"] == "orders", answer

    page = phone_page
    page.goto(status_url)
    page.locator("#positions tr", has_text="BTC").wait_for(timeout=30_000)  # the fill reached the position
    page.locator("#alerts td", has_text="fill").first.wait_for(timeout=30_000)
    for section in ("#kill-switch", "#pnl", "#positions", "#alerts"):
        box = page.locator(section).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, (section, box)
    _fits_the_width(page)
    page.screenshot(path=str(artifacts / "status-phone.png"), full_page=True)

    # installable: the manifest is linked, and the worker controls /status
    manifest = httpx.get(base + page.locator("link[rel=manifest]").get_attribute("href"), timeout=10).json()
    assert manifest["start_url"] == "/status" and manifest["display"] == "standalone" and manifest["icons"]
    scope = page.evaluate("navigator.serviceWorker.ready.then(r => r.scope)")
    assert scope == f"{base}/status"

    # the kill switch at a phone's width: the controls open with a code, HALTED shows on the page and in alerts
    page.click("#controls")
    page.fill("#code", pyotp.TOTP(TOTP).now())
    page.click("#unlock button")
    page.locator("#kill-switch", has_text="ACTIVE").wait_for(timeout=15_000)
    _fits_the_width(page)
    page.fill("#reason", "phone halt")
    page.locator("#switch-halted").tap()
    page.locator("#kill-switch", has_text="HALTED").wait_for(timeout=15_000)
    assert api.get("/killswitch").json()["state"] == "HALTED"
    page.screenshot(path=str(artifacts / "status-phone-controls-halted.png"), full_page=True)
    page.goto(f"{base}/status")
    page.locator("#kill-switch", has_text="HALTED").wait_for(timeout=15_000)
    page.locator("#alerts td", has_text="kill switch HALTED: phone halt").wait_for(timeout=15_000)
    _fits_the_width(page)

    # offline: the worker answers with the shell, which says so
    page.context.set_offline(True)
    page.reload()
    page.locator("#offline", has_text="You are offline").wait_for(timeout=15_000)
    _fits_the_width(page)
    page.screenshot(path=str(artifacts / "status-phone-offline.png"), full_page=True)
    page.context.set_offline(False)
    api.close()
