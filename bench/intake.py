"""Signals/s over the streaming intake (``GET /signals/stream``), and ``POST /signals`` at 500/s.

The paper venue server and the service each run in their own process, as ``kimera execute`` runs
them (journal ``synchronous`` as shipped); the load generator is this process. It sends NDJSON
messages of ``BATCH`` signals, each MAC'd, with ``WINDOW`` messages in flight, and counts signals
answered 200 per second until the last ack. The signals are decided and journaled but call for no
order (a zero forecast against a flat book: ``no_change``), so the figure is the intake's, not
the venues'. Ceiling in the same run: the same client against a bare websocket server that acks
each message without reading it (``bench._ws_echo``). The HTTP row is ``bench.execution``'s
500/s measure (every signal trades; answer once the venues acked the orders, whose decision and
``submitted`` state were committed before the venue call; the acks' own commit follows in the
journal's next group: docs/execution.md) against the same service. Each row gives the load average
(1 min) when it started: the machine is shared, and latency percentiles depend on it.
"""

from __future__ import annotations

import asyncio
import os
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
        stream_load = os.getloadavg()[0]
        stream = asyncio.run(_stream(f"http://127.0.0.1:{service_port}", total, "svc"))
        http_load = os.getloadavg()[0]  # latency on a shared machine: say how busy it was
        ack, ping, acked_share = asyncio.run(_measure(venue_port, service_port, 500.0, 2.0 if quick else 6.0))
    finally:
        _stop(procs)
    rate, ok = stream
    p99, base99 = float(np.percentile(ack, 99) * 1e3), float(np.percentile(ping, 99) * 1e3)
    p50 = float(np.percentile(ack, 50) * 1e3)
    return [
        Measure(
            f"stream intake: signals/s decided + journaled, {BATCH}/message, {WINDOW} in flight ({ok} of {total} answered 200; load avg {stream_load:.1f})",
            rate, "signals/s", "same client, bare websocket ack server (no MAC check, no journal)", ceiling[0],
            rate / ceiling[0], ">= 10,000 signals/s", bool(rate >= 10_000 and ok == total),
        ),
        Measure(
            f"POST /signals -> orders acked p99, 500/s, journal full, decision durable, ack committed behind (p50 {p50:.1f} ms, {acked_share:.0%} acked; load avg {http_load:.1f})",
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


def cpu_per_signal(rate: float = 500.0, seconds: float = 4.0) -> dict[str, float]:
    """Where the CPU of ``POST /signals`` goes at ``rate``: ms of CPU per signal in the service's
    event loop thread, its other threads (the journal's writer first), the venue server and this
    load generator (its warm-up and baseline pings included), plus the answers' p50/p99 (ms) and the
    load average. The service's figures count the 50 warm-up signals; pings never reach it."""
    import psutil

    venue_port, service_port, procs = _start_service("full")
    service, venue, me = (psutil.Process(p) for p in (procs[0].pid, procs[1].pid, os.getpid()))
    try:
        load = os.getloadavg()[0]
        before = {t.id: t.user_time + t.system_time for t in service.threads()}
        v0, m0 = sum(venue.cpu_times()[:2]), sum(me.cpu_times()[:2])
        ack, _, _ = asyncio.run(_measure(venue_port, service_port, rate, seconds))
        after = {t.id: t.user_time + t.system_time for t in service.threads()}
        v1, m1 = sum(venue.cpu_times()[:2]), sum(me.cpu_times()[:2])
    finally:
        _stop(procs)
    n = rate * seconds + 50
    threads = sorted((after[k] - before.get(k, 0.0) for k in after), reverse=True)
    return {
        "service_loop_ms": threads[0] / n * 1e3,
        "service_other_threads_ms": sum(threads[1:]) / n * 1e3,
        "venue_server_ms": (v1 - v0) / n * 1e3,
        "load_generator_ms": (m1 - m0) / n * 1e3,
        "p50_ms": float(np.percentile(ack, 50) * 1e3),
        "p99_ms": float(np.percentile(ack, 99) * 1e3),
        "load_avg": load,
    }


if __name__ == "__main__":  # python -m bench.intake [RATE]: the CPU split above, one line per figure
    for name, value in cpu_per_signal(float(sys.argv[1]) if len(sys.argv) > 1 else 500.0).items():
        print(f"{name:26s} {value:9.3f}")
