"""The streaming intake over a real websocket: MAC'd batches, replays and tampering refused before the
journal, one answer per signal, idempotent across reconnects, journaled before any order."""

from __future__ import annotations

import asyncio
import logging

import orjson
import pytest
import uvicorn
from pydantic import SecretStr

from connect.signal_stream import SignalStreamClient, StreamRefused
from execution.api.stream import mount_signal_stream
from execution.app import create_app
from execution.auth import ApiKeys, secure_app
from execution.journal import JournalError
from kimera.config import ExecutionAuth
from kimera.stream_mac import encode_message
from tests.execution.conftest import signal

SECRET = "stream-test-secret-5d7f9b1c3e5a7c9e1f3b"


@pytest.fixture
async def stream_url(service):
    """The service behind signed requests and the stream, served by uvicorn on a free port."""
    app = create_app(service)
    verifier = secure_app(
        app, ApiKeys({"desk": SecretStr(SECRET)}), ExecutionAuth(keys=["desk"], client_key="desk")
    )
    mount_signal_stream(app, service, verifier)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_config=None))
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "uvicorn did not start"
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def journaled(service, sid: str) -> int:
    return service.journal.query("SELECT COUNT(*) FROM signals WHERE signal_id = ?", (sid,))[0][0]


async def closed_with(client: SignalStreamClient, error: str) -> dict:
    with pytest.raises(StreamRefused) as refused:
        await client.ack()
    assert refused.value.error == error, refused.value.frame
    await asyncio.wait_for(client._ws.wait_closed(), 10)
    assert client._ws.close_code == 1008
    return refused.value.frame


async def test_a_batch_is_journaled_and_answered_per_signal_and_a_resend_after_reconnect_is_a_duplicate(
    service, stream_url
):
    client = await SignalStreamClient.connect(stream_url, "desk", SECRET)
    batch = [signal(1), signal(2, asset="ETH", forecast=-0.004), signal(3, asset="DOGE"), signal(1)]
    results = await client.submit(batch)
    assert [r["status"] for r in results] == [200, 200, 422, 200]
    assert results[3]["answer"]["duplicate"] is True  # a repeat inside one message trades once
    assert results[0]["answer"]["outcome"] == "orders" and results[0]["answer"]["orders"]
    assert results[1]["answer"]["signal_id"] == "sig-2" and not results[1]["answer"]["duplicate"]
    assert "DOGE" in results[2]["answer"]["message"]
    assert (
        journaled(service, "sig-1") == journaled(service, "sig-2") == 1 and journaled(service, "sig-3") == 0
    )
    first_parent = results[0]["answer"]["parent_id"]
    sig1_orders = "SELECT COUNT(*) FROM orders WHERE signal_id = 'sig-1'"
    orders_before = service.journal.query(sig1_orders)[0][0]
    await client.close()
    again = await SignalStreamClient.connect(stream_url, "desk", SECRET)
    assert again.connection_id != client.connection_id
    results = await again.submit([signal(1), signal(4, forecast=0.0)])
    assert results[0]["answer"]["duplicate"] is True
    assert results[0]["answer"]["parent_id"] == first_parent
    assert results[1]["status"] == 200 and results[1]["answer"]["duplicate"] is False
    assert service.journal.query(sig1_orders)[0][0] == orders_before  # sig-1 not traded twice
    await again.close()


async def test_a_tampered_message_is_refused_the_connection_closed_and_nothing_journaled(service, stream_url):
    client = await SignalStreamClient.connect(stream_url, "desk", SECRET)
    message = encode_message(client._session_key, client.connection_id, 1, [orjson.dumps(signal(10))])
    await client.send_raw(message.replace(b'"forecast":0.004', b'"forecast":0.009'))
    frame = await closed_with(client, "bad_mac")
    assert "MAC" in frame["message"]
    assert journaled(service, "sig-10") == 0


async def test_a_replayed_or_reordered_message_is_refused_and_a_captured_one_fails_on_a_new_connection(
    service, stream_url
):
    client = await SignalStreamClient.connect(stream_url, "desk", SECRET)
    first = encode_message(client._session_key, client.connection_id, 1, [orjson.dumps(signal(20))])
    await client.send_raw(first)
    assert (await client.ack())["results"][0]["status"] == 200
    await client.send_raw(first)  # the same message again
    frame = await closed_with(client, "bad_sequence")
    assert "replayed" in frame["message"] and "expected 2" in frame["message"]
    skipping = await SignalStreamClient.connect(stream_url, "desk", SECRET)
    ahead = encode_message(skipping._session_key, skipping.connection_id, 2, [orjson.dumps(signal(21))])
    await skipping.send_raw(ahead)
    assert "out of order" in (await closed_with(skipping, "bad_sequence"))["message"]
    other = await SignalStreamClient.connect(stream_url, "desk", SECRET)
    captured = encode_message(client._session_key, client.connection_id, 1, [orjson.dumps(signal(22))])
    await other.send_raw(captured)  # right seq, but another connection's key and id
    await closed_with(other, "bad_mac")
    assert journaled(service, "sig-21") == journaled(service, "sig-22") == 0


async def test_a_malformed_signal_refuses_its_whole_message_but_keeps_the_connection(service, stream_url):
    client = await SignalStreamClient.connect(stream_url, "desk", SECRET)
    bad = signal(31)
    del bad["forecast"]
    await client.send([signal(30), bad])
    with pytest.raises(StreamRefused) as refused:
        await client.ack()
    frame = refused.value.frame
    assert frame["error"] == "invalid_request" and frame["line"] == 2 and frame["seq"] == 1
    assert frame["fields"][0]["loc"] == ["forecast"]
    assert journaled(service, "sig-30") == journaled(service, "sig-31") == 0
    results = await client.submit([signal(30)])  # seq 2 on the same connection
    assert results[0]["status"] == 200 and journaled(service, "sig-30") == 1
    await client.close()


async def test_an_unsigned_or_wrongly_signed_handshake_gets_no_stream(service, stream_url):
    with pytest.raises(StreamRefused) as refused:
        await SignalStreamClient.connect(stream_url, "desk", "not-the-secret-0000000000")
    assert refused.value.error == "unauthorized" and refused.value.frame["reason"] == "forged"
    with pytest.raises(StreamRefused) as refused:
        await SignalStreamClient.connect(stream_url, "eve", SECRET)
    assert refused.value.frame["reason"] == "unknown_key"


async def test_signals_are_journaled_before_any_order_a_journal_failure_sends_nothing(
    service, paper, stream_url, monkeypatch
):
    client = await SignalStreamClient.connect(stream_url, "desk", SECRET)
    real_write = service.journal.write

    async def failing(statements):
        raise JournalError("disk full (injected)")

    monkeypatch.setattr(service.journal, "write", failing)
    results = await client.submit([signal(40), signal(41, asset="ETH")])
    assert [r["status"] for r in results] == [503, 503]
    assert results[0]["answer"]["error"] == "journal_unavailable"
    # an answer waits for its orders' acks (ack_wait_s): an order sent anyway would be at the venue now
    venue_orders = [o for v in paper.state().values() for o in v["orders"]]
    assert venue_orders == [] and journaled(service, "sig-40") == 0
    monkeypatch.setattr(service.journal, "write", real_write)
    results = await client.submit([signal(40), signal(41, asset="ETH")])  # nothing happened: now it trades
    assert all(r["status"] == 200 and not r["answer"]["duplicate"] for r in results)
    sent = {o["client_order_id"] for v in paper.state().values() for o in v["orders"]}
    journal_orders = {r[0] for r in service.journal.query("SELECT client_order_id FROM orders")}
    assert sent and sent <= journal_orders
    await client.close()


async def test_session_and_api_keys_never_appear_in_logs_reprs_or_errors(service, stream_url, caplog):
    caplog.set_level(logging.DEBUG)
    client = await SignalStreamClient.connect(stream_url, "desk", SECRET)
    session_hex = client._session_key.hex()
    await client.submit([signal(50)])
    message = encode_message(client._session_key, client.connection_id, 2, [b'{"nope": 1}'])
    await client.send_raw(message[:-3] + b"xx}")
    frame = await closed_with(client, "bad_mac")
    with pytest.raises(StreamRefused) as refused:
        await SignalStreamClient.connect(stream_url, "desk", SECRET[:-1] + "0")
    seen = [caplog.text, repr(client), str(refused.value), repr(refused.value.frame), repr(frame)]
    for text in seen:
        assert SECRET not in text and session_hex not in text
    assert "desk" in repr(client)


async def test_kimera_live_stream_sender_drains_its_outbox_in_batches_and_a_resend_trades_nothing_twice(
    service, stream_url, tmp_path
):
    from datetime import datetime

    from kimera.signing import SignedAuth
    from live.clock import TestClock
    from live.model import Prediction
    from live.signals import Outbox
    from live.stream_sender import StreamSignalSender

    start = datetime(2026, 4, 1)
    outbox = Outbox(tmp_path / "outbox.sqlite")
    for i, asset in enumerate(["BTC", "ETH", "BTC"]):
        bar = start.replace(hour=i)
        outbox.put(Prediction(f"live-{i}", "m1", asset, bar, 1, 0.004, -0.006, 0.014, 0.6), start)
    sender = StreamSignalSender(outbox, stream_url, SignedAuth("desk", SecretStr(SECRET)), TestClock(start))
    assert SECRET not in repr(sender.auth)
    task = asyncio.create_task(sender.run())
    try:
        assert await sender.drain(60)
        assert outbox.counts() == {"accepted": 3} and sender.stats.accepted == 3
        assert all(journaled(service, f"live-{i}") == 1 for i in range(3))
        orders = service.journal.query("SELECT COUNT(*) FROM orders")[0][0]
        outbox.db.execute("update signals set status = 'queued'")  # as if the acks were lost
        assert await sender.drain(60)
        assert (
            sender.stats.accepted == 6
            and service.journal.query("SELECT COUNT(*) FROM orders")[0][0] == orders
        )
        answers = [orjson.loads(a) for (a,) in outbox.db.execute("select answer from signals").fetchall()]
        assert all(a["duplicate"] for a in answers)
    finally:
        await sender.stop()
        await task
        outbox.close()
