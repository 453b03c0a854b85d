"""The execution service is down while the loop signals: signals wait in the durable outbox, reach
the service once it is up, and no signal is decided twice, even when the loop queues it again."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import datetime, timedelta

import pytest
from pydantic import SecretStr

from kimera.signing import SignedAuth
from live.clock import LiveClock
from live.model import Prediction, prediction_id
from live.signals import Outbox, SignalSender
from tests.execution.conftest import (
    FAST,
    SERVICE_KEY_SECRET,
    free_port,
    service_env,
    start_paper,
    stop,
    wait_http,
    write_config,
)
from tests.execution.test_crash import _start_service

pytestmark = pytest.mark.slow


def predictions(n: int) -> list[Prediction]:
    start = datetime(2026, 4, 1)
    out = []
    for i in range(n):
        asset, bar = ("BTC", "ETH")[i % 2], start + timedelta(hours=i // 2)
        forecast = 0.004 if i % 3 else -0.004
        out.append(
            Prediction(
                prediction_id("kimera-linear:test", asset, bar),
                "kimera-linear:test",
                asset,
                bar,
                1,
                forecast,
                forecast - 0.01,
                forecast + 0.01,
                0.6,
            )  # fmt: skip
        )
    return out


def test_signals_wait_out_a_service_outage_and_are_decided_once(kimera_home, tmp_path):
    venue_port, service_port = free_port(), free_port()
    cfg = {**FAST, "paper": {**FAST["paper"], "url": f"http://127.0.0.1:{venue_port}", "port": venue_port}}
    path = write_config(tmp_path / "kimera.yaml", cfg)
    env = service_env(KIMERA_CONFIG=str(path), KIMERA_HOME=str(kimera_home.home_dir))
    url = f"http://127.0.0.1:{service_port}"
    outbox_path = kimera_home.home_dir / "live" / "outbox.sqlite"
    sent = predictions(8)
    procs = []

    async def scenario() -> SignalSender:
        outbox = Outbox(outbox_path)
        sender = SignalSender(outbox, url, SignedAuth("local", SecretStr(SERVICE_KEY_SECRET)), LiveClock(),
                              max_backoff_s=0.3)  # fmt: skip
        task = asyncio.create_task(sender.run())
        for p in sent:
            assert outbox.put(p, datetime(2026, 4, 1))
        sender.wake()
        await asyncio.sleep(1.5)  # the service is down: every try fails, nothing is lost
        assert outbox.counts() == {"queued": len(sent)} and sender.stats.retries >= 2
        procs.append(start_paper(path, venue_port).proc)
        procs.append(_start_service(service_port, env))
        await asyncio.to_thread(wait_http, f"{url}/healthz", procs[-1], 60)
        assert await sender.drain(60)
        # the loop, restarted, queues the same bars again: the outbox knows them
        assert not any(outbox.put(p, datetime(2026, 4, 1)) for p in sent)
        await sender.stop()
        task.cancel()
        outbox.close()
        return sender

    try:
        sender = asyncio.run(scenario())
        # a signal replayed straight to the service (a lost ack) is answered, not decided again
        with sqlite3.connect(outbox_path) as db:
            body = db.execute("select body from signals order by seq limit 1").fetchone()[0]
        from tests.execution.conftest import signed_client

        with signed_client(timeout=10) as client:
            again = client.post(f"{url}/signals", content=body, headers={"content-type": "application/json"})
        assert again.status_code == 200
    finally:
        for proc in reversed(procs):
            stop(proc)

    assert sender.stats.accepted == len(sent) and sender.stats.rejected == 0
    journal = sqlite3.connect(kimera_home.journal_path)
    try:
        decided = dict(
            journal.execute("select signal_id, count(*) from signals group by signal_id").fetchall()
        )
        parents = journal.execute("select signal_id, count(*) from parents group by signal_id").fetchall()
    finally:
        journal.close()
    assert decided == {p.prediction_id: 1 for p in sent}
    assert all(n == 1 for _, n in parents)
