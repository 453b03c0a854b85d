"""A lean HTTP/1.1 client for the paper venue server: persistent connections, one request at a time
on each, responses parsed by httptools (the C parser uvicorn uses).

It sits on the signal-to-acknowledgement path, several requests per signal: a general client
(aiohttp) spends ~150 us of CPU on each (request objects, header multidicts, cookie jar, tracing
hooks); this one ~40 us. It speaks only what the paper server needs: a method, a path with its
query, a JSON body; status, ``Retry-After`` and the body back.

Failures say what the caller may conclude: :class:`ConnectFailed` (the request never left: no
connection could be made) or :class:`NoAnswer` (it may have reached the server: a timeout, or the
connection dropped before the whole answer came). A connection that failed or timed out is never
reused; idle connections older than ``max_idle_s`` are closed rather than reused, so a request never
races the server's keep-alive timeout.
"""

from __future__ import annotations

import asyncio
import collections
import time
from dataclasses import dataclass

import httptools


class ConnectFailed(ConnectionError):
    """No connection could be made: the request was not sent."""


class NoAnswer(ConnectionError):
    """The request may have been received, but no complete answer came back."""


@dataclass(slots=True)
class Answer:
    status: int
    body: bytes
    retry_after: str | None = None


class _Connection(asyncio.Protocol):
    __slots__ = (
        "transport",
        "parser",
        "waiter",
        "body",
        "retry_after",
        "_header",
        "keep_alive",
        "idle_since",
    )

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[Answer] | None = None
        self.body: list[bytes] = []
        self.retry_after: str | None = None
        self._header = b""
        self.keep_alive = True
        self.idle_since = time.monotonic()

    # --- asyncio.Protocol ----------------------------------------------------------------------
    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(NoAnswer(f"malformed answer: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.keep_alive = False
        self._fail(NoAnswer("connection closed before the answer"))

    # --- httptools callbacks -------------------------------------------------------------------
    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name == b"retry-after":
            self.retry_after = value.decode("latin-1")
        elif name == b"connection" and value.lower() == b"close":
            self.keep_alive = False

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        waiter, self.waiter = self.waiter, None
        answer = Answer(self.parser.get_status_code(), b"".join(self.body), self.retry_after)
        self.body, self.retry_after = [], None
        if not self.parser.should_keep_alive():
            self.keep_alive = False
        if waiter is not None and not waiter.done():
            waiter.set_result(answer)

    def _fail(self, exc: Exception) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    # --- use -----------------------------------------------------------------------------------
    @property
    def usable(self) -> bool:
        return self.keep_alive and self.transport is not None and not self.transport.is_closing()

    def close(self) -> None:
        self.keep_alive = False
        if self.transport is not None:
            self.transport.close()


class LoopbackHttpClient:
    """Requests to one ``host:port`` over at most ``max_connections`` persistent connections."""

    def __init__(self, host: str, port: int, max_connections: int = 64, max_idle_s: float = 2.0):
        self.host, self.port = host, port
        self.max_connections, self.max_idle_s = max_connections, max_idle_s
        self._host_header = f"Host: {host}:{port}\r\n".encode()
        self._idle: collections.deque[_Connection] = collections.deque()
        self._open = 0
        self._slots: asyncio.Semaphore | None = None
        self.closed = False

    async def request(
        self, method: str, target: str, body: bytes | None = None, timeout: float = 2.0
    ) -> Answer:
        """Send ``method target`` (path and query) with an optional JSON ``body``; the answer."""
        if self.closed:
            raise ConnectFailed("the client is closed")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.max_connections)
        try:
            async with asyncio.timeout_at(deadline):
                await self._slots.acquire()
        except TimeoutError:
            raise ConnectFailed(
                f"no free connection to {self.host}:{self.port} within {timeout:g} s"
            ) from None
        try:
            conn = await self._connection(deadline)
            head = f"{method} {target} HTTP/1.1\r\n".encode() + self._host_header
            if body is not None:
                head += b"Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body)
            waiter = conn.waiter = loop.create_future()
            conn.transport.write(head + b"\r\n" + body if body is not None else head + b"\r\n")
            try:
                async with asyncio.timeout_at(deadline):
                    answer = await waiter
            except BaseException as exc:  # timed out, dropped or cancelled: the stream is out of step
                conn.close()
                self._open -= 1
                if isinstance(exc, TimeoutError):
                    raise NoAnswer(f"no answer within {timeout:g} s") from None
                raise
            if conn.usable:
                conn.idle_since = time.monotonic()
                self._idle.append(conn)
            else:
                conn.close()
                self._open -= 1
            return answer
        finally:
            self._slots.release()

    async def _connection(self, deadline: float) -> _Connection:
        now = time.monotonic()
        while self._idle:
            conn = self._idle.pop()  # the most recently used: the least likely to be timed out
            if conn.usable and now - conn.idle_since < self.max_idle_s:
                return conn
            conn.close()
            self._open -= 1
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout_at(deadline):
                _, conn = await loop.create_connection(_Connection, self.host, self.port)
        except (OSError, TimeoutError) as exc:
            raise ConnectFailed(f"cannot connect to {self.host}:{self.port} ({type(exc).__name__})") from None
        self._open += 1
        return conn

    async def close(self) -> None:
        self.closed = True
        while self._idle:
            self._idle.pop().close()
