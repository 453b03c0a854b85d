"""``GET /healthz`` says how far the router's books have followed the market (``market_as_of``, the
venues' own time), so a caller that moved a paper market's clock (the demo's paper day) waits until
the books show the new bar instead of for a fixed time."""

from __future__ import annotations

import subprocess
import sys

import httpx

from kimera.app.demo.paper_settle import wait_for_books
from tests.execution.conftest import REPO_ROOT, service_env, stop, wait_http
from tests.support.net import free_port


def test_the_books_follow_a_moved_paper_market_and_healthz_says_when(exec_env, paper):
    path, _ = exec_env
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    service = subprocess.Popen([sys.executable, "-m", "execution.app", "--port", str(port)], cwd=REPO_ROOT,
                               env=service_env(KIMERA_CONFIG=str(path)), stdout=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_http(f"{url}/healthz", service, 60)
        market_now = httpx.get(f"{paper.url}/ping", timeout=5).json()["time"]
        assert wait_for_books(url, market_now - 60, deadline_s=10)
        as_of = httpx.get(f"{url}/healthz", timeout=5).json()["market_as_of"]
        assert market_now - 60 <= as_of <= market_now + 60  # the paper market's time, not the wall's

        later = market_now + 3 * 3600
        httpx.put(f"{paper.url}/admin/clock", json={"time": later}, timeout=5).raise_for_status()
        assert wait_for_books(url, later, deadline_s=10), "the books never showed the moved market"
        assert later <= httpx.get(f"{url}/healthz", timeout=5).json()["market_as_of"] < later + 60

        # a market the venues have not reached: the wait gives up at its deadline and says so
        assert not wait_for_books(url, later + 86_400, deadline_s=0.5)
    finally:
        stop(service)
