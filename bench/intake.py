"""Signals/s over the streaming intake (``GET /signals/stream``), and ``POST /signals`` at 500/s.

The paper venue server and the service each run in their own process, as ``kimera execute`` runs
them (journal ``synchronous`` as shipped); the load generator is this process. It sends NDJSON
messages of ``BATCH`` signals, each MAC'd, with ``WINDOW`` messages in flight, and counts signals
answered 200 per second until the last ack. The signals are decided and journaled but call for no
order (a zero forecast against a flat book: ``no_change``), so the figure is the intake's, not
the venues'. Ceiling in the same run: the same client against a bare websocket server that acks
each message without reading it (``bench._ws_echo``). The HTTP row is ``bench.execution``'s
500/s measure (every signal trades; answer once the orders are acked) against the same service.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time

import numpy as np
import orjson

from bench import Measure
from bench.execution import BENCH_KEY, ROOT, _measure, _port, _start_service, _stop
from connect.signal_stream import SignalStreamClient

BATCH, WINDOW = 500, 4


def run(quick: bool = False) -> list[Measure]:
    total = 10_000 if quick else 40_000
    echo_port = _port()
    echo = subprocess.Popen([sys.executable, "-m", "bench._ws_echo", "--port", str(echo_port)], cwd=ROOT)
    try:
        _listening(echo_port, echo)
        ceiling = asyncio.run(_stream(f"http://127.0.0.1:{echo_port}", total, "echo"))
    finally:
        _stop([echo])
    venue_port, service_port, procs = _start_service("full")
    try:
        stream = asyncio.run(_stream(f"http://127.0.0.1:{service_port}", total, "svc"))
        ack, ping, acked_share = asyncio.run(_measure(venue_port, service_port, 500.0, 2.0 if quick else 6.0))
    finally:
        _stop(procs)
    rate, ok = stream
    p99, base99 = float(np.percentile(ack, 99) * 1e3), float(np.percentile(ping, 99) * 1e3)
    p50 = float(np.percentile(ack, 50) * 1e3)
    return [
        Measure(
            f"stream intake: signals/s decided + journaled, {BATCH}/message, {WINDOW} in flight ({ok} of {total} answered 200)",
            rate, "signals/s", "same client, bare websocket ack server (no MAC check, no journal)", ceiling[0],
            rate / ceiling[0], ">= 10,000 signals/s", bool(rate >= 10_000 and ok == total),
        ),
        Measure(
            f"POST /signals -> orders acked p99, 500/s, journal full (p50 {p50:.1f} ms, {acked_share:.0%} acked)",
            p99, "ms", "bare HTTP round trip to the venue server p99", base99, p99 / base99, "<= 20 ms at 500/s",
            bool(p99 <= 20.0),
        ),
    ]  # fmt: skip


def _listening(port: int, proc: subprocess.Popen, timeout_s: float = 30.0) -> None:
    deadline = time.time() + timeout_s
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"the websocket ack server did not listen on port {port}") from None
            time.sleep(0.1)


async def _stream(url: str, total: int, tag: str) -> tuple[float, int]:
    """(signals answered 200 per second, how many) sending ``total`` signals in messages of BATCH."""
    body = {"asset": "BTC", "model_tag": "bench", "feature_time": "2026-04-01T00:00:00", "horizon": 1,
            "forecast": 0.0, "lower": -0.01, "upper": 0.01, "p_up": 0.5}  # fmt: skip
    signals = [
        orjson.dumps({**body, "signal_id": f"{tag}-{i}", "prediction_id": f"p{i}"}) for i in range(total)
    ]
    client = await SignalStreamClient.connect(url, "local", BENCH_KEY)
    warm = [
        orjson.dumps({**body, "signal_id": f"{tag}-warm-{i}", "prediction_id": "w"}) for i in range(BATCH)
    ]
    await client.submit(warm)
    ok = 0
    t0 = time.perf_counter()
    batches = [signals[i : i + BATCH] for i in range(0, total, BATCH)]
    in_flight = 0
    for batch in batches:
        if in_flight == WINDOW:
            ok += sum(r["status"] == 200 for r in (await client.ack())["results"])
            in_flight -= 1
        await client.send(batch)
        in_flight += 1
    for _ in range(in_flight):
        ok += sum(r["status"] == 200 for r in (await client.ack())["results"])
    elapsed = time.perf_counter() - t0
    await client.close()
    return ok / elapsed, ok
