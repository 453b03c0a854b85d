"""SIGKILL the service at random moments while signals stream in, restart it, and check that no
order was lost or duplicated and that the journal equals the venue's state."""

from __future__ import annotations

import random
import signal as sig
import sqlite3
import subprocess
import sys
import threading
import time
from decimal import Decimal

import httpx
import pytest

from tests.execution.conftest import (
    FAST,
    REPO_ROOT,
    free_port,
    service_env,
    signal,
    signed_client,
    start_paper,
    stop,
    wait_http,
    write_config,
)

LIVE_STATES = {"new", "submitted", "acknowledged", "partially_filled", "unknown"}


def _start_service(port: int, env: dict[str, str]) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "execution.app", "--port", str(port)], cwd=REPO_ROOT, env=env,
                            stdout=subprocess.DEVNULL)  # fmt: skip
    return proc


def _stream(url: str, n: int, accepted: dict[str, dict], stop_at: threading.Event, seed: int) -> None:
    """Send signals 0..n-1, each until the service answers 200 (it may be down or die mid-request)."""
    rng = random.Random(seed)
    with signed_client(timeout=5.0) as client:
        for i in range(n):
            body = signal(
                i, asset=rng.choice(["BTC", "ETH"]), forecast=rng.choice([-0.004, -0.002, 0.002, 0.004])
            )
            while not stop_at.is_set():
                try:
                    r = client.post(f"{url}/signals", json=body)
                except httpx.HTTPError:
                    time.sleep(0.05)
                    continue
                if r.status_code == 200:
                    accepted[body["signal_id"]] = r.json()
                    break
                time.sleep(0.05)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1])  # real processes, 3 kills; test_crash_points.py kills at 100 points
def test_no_order_lost_or_duplicated_across_sigkills(kimera_home, tmp_path, seed):
    venue_port, service_port = free_port(), free_port()
    cfg = {**FAST, "paper": {**FAST["paper"], "url": f"http://127.0.0.1:{venue_port}", "port": venue_port},
           "oms": {**FAST["oms"], "ack_wait_s": 0.0}}  # fmt: skip
    path = write_config(tmp_path / "kimera.yaml", cfg)
    env = service_env(KIMERA_CONFIG=str(path), KIMERA_HOME=str(kimera_home.home_dir))
    paper = start_paper(
        path, venue_port, faults='{"lost_answer": 0.05, "duplicate_fill": 0.2, "delay_s": 1.5}'
    )
    url = f"http://127.0.0.1:{service_port}"
    service = _start_service(service_port, env)
    rng = random.Random(seed)
    accepted: dict[str, dict] = {}
    done = threading.Event()
    n_signals = 60
    streamer = threading.Thread(target=_stream, args=(url, n_signals, accepted, done, seed), daemon=True)
    try:
        wait_http(f"{url}/healthz", service)
        streamer.start()
        for _ in range(3):  # kill at a random moment, restart
            time.sleep(rng.uniform(0.3, 1.5))
            service.send_signal(sig.SIGKILL)
            service.wait()
            service = _start_service(service_port, env)
            wait_http(f"{url}/healthz", service)
        streamer.join(timeout=120)
        assert not streamer.is_alive(), f"only {len(accepted)} of {n_signals} signals were accepted"
        deadline = time.time() + 40
        while time.time() < deadline:
            with signed_client(timeout=5) as client:
                orders = client.get(f"{url}/orders", params={"limit": 10000}).json()
            if all(o["state"] not in LIVE_STATES for o in orders):
                break
            time.sleep(0.3)
        time.sleep(1.0)  # let the update stream bring the last fills in
        service.send_signal(sig.SIGTERM)
        service.wait(timeout=20)
        venue = paper.state()
    finally:
        done.set()
        stop(service)
        stop(paper.proc)

    assert_no_order_lost_or_duplicated(kimera_home.journal_path, venue, accepted, n_signals)


def assert_no_order_lost_or_duplicated(
    journal_path, venue: dict, accepted: dict[str, dict], n_signals: int
) -> None:
    """The journal after the crashes against the paper venues' own record of orders and fills."""
    db = sqlite3.connect(journal_path)
    journal = {
        r[0]: r[1:]
        for r in db.execute("SELECT client_order_id, state, filled, intent_key, venue FROM orders")
    }
    signals = dict(db.execute("SELECT signal_id, outcome FROM signals"))
    parents = db.execute("SELECT signal_id, COUNT(*) FROM parents GROUP BY signal_id").fetchall()
    journal_fills = set(db.execute("SELECT venue, fill_id FROM fills"))
    db.close()

    # no signal lost, none decided twice
    assert set(accepted) <= set(signals) and len(signals) == n_signals
    assert all(n == 1 for _, n in parents)
    assert any(outcome == "orders" for outcome in signals.values())
    # every order settled; none lost: a journaled order is at its venue, or ended without trading
    venue_orders = {o["client_order_id"]: (name, o) for name, v in venue.items() for o in v["orders"]}
    assert all(state not in LIVE_STATES for state, *_ in journal.values()), [
        (cid, row) for cid, row in journal.items() if row[0] in LIVE_STATES
    ]
    for cid, (state, filled, _intent, _venue) in journal.items():
        if cid not in venue_orders:
            assert state in ("rejected", "cancelled") and Decimal(filled) == 0, (cid, state)
    # none duplicated: every venue order is journaled, one venue order per intent
    assert venue_orders and set(venue_orders) <= set(journal)
    intents = [journal[cid][2] for cid in venue_orders]
    assert len(intents) == len(set(intents))
    # journal equals venue state
    for cid, (name, vo) in venue_orders.items():
        state, filled, _, venue_name = journal[cid]
        assert venue_name == name
        assert state == {"closed": "filled", "canceled": "cancelled", "rejected": "rejected"}[vo["status"]], (
            cid
        )
        assert Decimal(filled) == Decimal(vo["filled"]), cid
    assert journal_fills == {(f["venue"], f["fill_id"]) for v in venue.values() for f in v["fills"]}
    # the audit trail is written in the journal's own commits: SIGKILLs leave it whole and equal to it
    from execution.audit import verify

    audit = verify(f"sqlite:///{journal_path}")
    assert audit.ok and audit.entries > len(journal), (audit.problem, audit.mismatches[:3])
