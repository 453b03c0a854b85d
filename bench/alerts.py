"""What alerts cost the code that raises them, and how fast they go out.

1. ``AlertSender.send`` while the receiver is down (every delivery failing and backing off, the
   queue full and dropping its oldest): p99 of one call, against the p99 of appending to a
   ``collections.deque`` under a lock (ceiling: the least a thread-safe bounded queue can cost).
   This is what a fill costs the trading loop when alerts are on.
2. Delivery throughput to a local HTTP receiver (signed JSON, one background thread, keep-alive),
   against plain httpx POSTs of the same JSON bodies, unsigned, from one thread to the same
   receiver (ceiling): the price of the queue, the thread hand-off, signing and retry bookkeeping.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
from pydantic import SecretStr

from bench import Measure
from kimera.alerts import Alert, AlertSender
from kimera.alerts.channels import Webhook

KEY = SecretStr("bench-alert-key-0123456789")


def _p99(samples: list[float]) -> float:
    samples.sort()
    return samples[int(0.99 * (len(samples) - 1))]


def _alert(i: int) -> Alert:
    return Alert(
        "fill", f"buy 0.1 BTC #{i}", 1_775_000_000.0 + i, {"venue": "alpha", "price": "65000.5", "n": i}
    )


def _send_p99(n: int) -> tuple[float, float]:
    with socket.socket() as s:  # a port nothing listens on: every delivery is refused and retried
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    sender = AlertSender([Webhook(dead)], KEY, queue_size=256, max_attempts=1000, backoff_base_s=0.001,
                         backoff_max_s=0.01, timeout_s=1.0).start()  # fmt: skip
    alerts = [_alert(i) for i in range(n)]
    took = []
    try:
        for alert in alerts:
            t0 = time.perf_counter()
            sender.send(alert)
            took.append(time.perf_counter() - t0)
    finally:
        sender.close(drain_timeout_s=0)
    lock, ring, ceiling = threading.Lock(), deque(maxlen=256), []
    for alert in alerts:
        t0 = time.perf_counter()
        with lock:
            ring.append(alert)
        ceiling.append(time.perf_counter() - t0)
    return _p99(took) * 1e6, _p99(ceiling) * 1e6


class _Receiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real receiver
    disable_nagle_algorithm = True  # headers and body are two writes: without it each answer waits ~40 ms

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["content-length"]))
        self.send_response(200)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args) -> None:
        pass


def _delivery_rates(n: int) -> tuple[float, float]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    try:
        sender = AlertSender([Webhook(url)], KEY, queue_size=n).start()
        t0 = time.perf_counter()
        for i in range(n):
            sender.send(_alert(i))
        sender.flush(120)
        delivered = sender.stats.sent / (time.perf_counter() - t0)
        sender.close()
        bodies = [
            json.dumps(_alert(i).payload(), sort_keys=True).encode() for i in range(n)
        ]  # the sender's bodies
        with httpx.Client() as client:
            t0 = time.perf_counter()
            for body in bodies:
                client.post(url, content=body, headers={"content-type": "application/json"})
            plain = n / (time.perf_counter() - t0)
    finally:
        server.shutdown()
        server.server_close()
    return delivered, plain


def run(quick: bool = False) -> list[Measure]:
    send_p99, append_p99 = _send_p99(2_000 if quick else 20_000)
    delivered, plain = _delivery_rates(200 if quick else 2_000)
    return [
        Measure(
            "AlertSender.send p99 while the receiver is down (queue full, oldest dropped)", send_p99, "us",
            "deque.append under a lock, p99", append_p99, send_p99 / append_p99 if append_p99 else None,
            "<= 50 us (a fill's alert never holds up trading)", bool(send_p99 <= 50),
        ),
        Measure(
            "alerts delivered to a local webhook (signed, one background thread)", delivered, "alerts/s",
            "plain httpx POSTs of the same bodies, one thread", plain, delivered / plain,
            "ratio >= 0.5", bool(delivered / plain >= 0.5),
        ),
    ]  # fmt: skip
