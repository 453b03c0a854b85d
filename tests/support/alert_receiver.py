"""A local alert receiver: an aiohttp server on 127.0.0.1 (free port) in its own thread.

It records every request (path, headers, body) and answers from a script: ``fail_next`` answers
that many requests with ``fail_status`` first; ``hold`` makes requests wait until released.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from aiohttp import web


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    url: str = ""
    requests: list[Received] = field(default_factory=list)
    fail_next: int = 0
    fail_status: int = 503
    hold: threading.Event | None = None  # set: requests wait for it
    holding: threading.Event = field(default_factory=threading.Event)
    answered: list[int] = field(default_factory=list)

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        """Wait (generously) until ``count`` requests were answered; the requests so far."""
        deadline = time.monotonic() + timeout
        while len(self.answered) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(self.answered) >= count, f"{len(self.answered)} of {count} requests answered"
        return self.requests


@contextmanager
def alert_receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    loop = asyncio.new_event_loop()
    started = threading.Event()

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        receiver.requests.append(
            Received(request.path, {k.lower(): v for k, v in request.headers.items()}, body)
        )
        if receiver.hold is not None:
            receiver.holding.set()
            await loop.run_in_executor(None, receiver.hold.wait, 60)
        status = 200
        if receiver.fail_next > 0:
            receiver.fail_next -= 1
            status = receiver.fail_status
        receiver.answered.append(status)
        return web.json_response({"ok": status == 200}, status=status)

    app = web.Application()
    app.router.add_post("/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)  # the receiver is not us: its log is not under test

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        loop.run_until_complete(site.start())
        port = runner.addresses[0][1]
        receiver.url = f"http://127.0.0.1:{port}"
        started.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert started.wait(30), "the alert receiver did not start"
    try:
        yield receiver
    finally:
        if receiver.hold is not None:
            receiver.hold.set()
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
