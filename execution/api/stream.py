"""``GET /signals/stream``: the streaming intake, a websocket carrying batches of MAC'd signals.

The handshake is verified by the same :class:`~execution.auth.Verifier` as every request (it must
be signed, even though it is a GET); the service then sends ``hello`` with a connection id and a
fresh 256-bit session key, and every message must carry the next sequence number and its MAC
(:mod:`kimera.stream_mac`). What happens to a message that fails:

- bad MAC, a sequence number out of order or replayed, an unreadable header: an ``error`` frame
  naming it, then the connection is **closed** (code 1008); nothing of that message is journaled.
- a signal that is not valid (JSON, fields): an ``error`` frame naming the line and fields, and the
  whole message is **refused** (none of its signals is journaled); the connection stays open and
  the sequence number is spent.

A message's valid signals are decided in order by the ``POST /signals`` decision path and
journaled as one unit, one transaction, before any of their orders is sent
(:meth:`ExecutionService.handle_signals`; idempotent by signal id); the ``ack`` frame lists each
signal's answer in order (``status`` as ``POST /signals`` would answer it, and its body).
"""

from __future__ import annotations

import hmac
import logging
import secrets

import orjson

from execution import redact
from execution.api.intake import answer_signals, read_signal
from execution.auth import Unauthorized, Verifier, _target
from execution.service import ExecutionService
from kimera.signing import SIGNATURE_HEADER
from kimera.stream_mac import (
    MAX_MESSAGE_BYTES,
    MAX_SIGNALS_PER_MESSAGE,
    STREAM_PATH,
    BadFrame,
    decode_header,
    message_mac,
)

log = logging.getLogger("kimera.execution.stream")
POLICY_VIOLATION = 1008


class SignalStream:
    """ASGI middleware answering the ``/signals/stream`` websocket; everything else passes on."""

    def __init__(self, app, service: ExecutionService, verifier: Verifier):
        self.app, self.service, self.verifier = app, service, verifier

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "websocket" or scope["path"] != STREAM_PATH:
            await self.app(scope, receive, send)
            return
        if (await receive())["type"] != "websocket.connect":
            return
        await send({"type": "websocket.accept"})
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            if SIGNATURE_HEADER.lower() not in headers:
                raise Unauthorized(
                    "unsigned", f"the {STREAM_PATH} handshake must be signed (docs/security.md)"
                )
            key_id = await self.verifier.verify_async("GET", _target(scope), headers, b"")
        except Unauthorized as exc:
            log.warning("refused a signal stream: %s", exc)
            await _close(
                send, {"type": "error", "error": "unauthorized", "reason": exc.reason, "message": str(exc)}
            )
            return
        connection = _Connection(self.service, key_id)
        redact.register(connection.session_key.hex())  # never in a log line
        await _send(send, connection.hello())
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            data = message.get("bytes")
            if data is None:
                data = (message.get("text") or "").encode()
            reply, keep_open = await connection.handle(data)
            if not keep_open:
                await _close(send, reply)
                return
            await _send(send, reply)


class _Connection:
    """One authenticated stream: its id, session key and the next sequence number it expects."""

    def __init__(self, service: ExecutionService, key_id: str):
        self.service, self.key_id = service, key_id
        self.connection_id = secrets.token_urlsafe(12)
        self.session_key = secrets.token_bytes(32)
        self.expected = 1

    def __repr__(self) -> str:
        return f"_Connection(id={self.connection_id!r}, key_id={self.key_id!r}, next_seq={self.expected})"

    def hello(self) -> dict:
        return {
            "type": "hello",
            "connection_id": self.connection_id,
            "session_key": self.session_key.hex(),
            "next_seq": self.expected,
            "max_signals": MAX_SIGNALS_PER_MESSAGE,
        }

    async def handle(self, data: bytes) -> tuple[dict | bytes, bool]:
        """(reply, keep the connection open) for one message."""
        if len(data) > MAX_MESSAGE_BYTES:
            return _error("too_large", f"messages are limited to {MAX_MESSAGE_BYTES} bytes"), False
        try:
            seq, mac, body = decode_header(data)
        except BadFrame as exc:
            return _error("bad_frame", str(exc)), False
        if seq != self.expected:
            what = "replayed" if seq < self.expected else "out of order"
            return _error("bad_sequence", f"seq {seq} is {what}: expected {self.expected}", seq), False
        if not hmac.compare_digest(message_mac(self.session_key, self.connection_id, seq, body), mac):
            return _error(
                "bad_mac", "the message's MAC does not match its body, seq and connection", seq
            ), False
        self.expected += 1
        lines = [line for line in body.split(b"\n") if line.strip()]
        if not lines or len(lines) > MAX_SIGNALS_PER_MESSAGE:
            n = len(lines)
            return _error("invalid_request", f"a message carries 1 to {MAX_SIGNALS_PER_MESSAGE} signals, not {n}", seq), True  # fmt: skip
        signals = []
        for i, line in enumerate(lines):
            signal = read_signal(line, "application/json")
            if isinstance(signal, list):
                fields = [{"loc": [str(p) for p in e["loc"][1:]], "msg": e["msg"]} for e in signal]
                message = f"signal {i} (line {i + 1}) is not valid; no signal of this message was taken"
                return {**_error("invalid_request", message, seq), "line": i + 1, "fields": fields}, True
            signals.append(signal)
        answers = await answer_signals(self.service, signals, self.key_id)
        results = b",".join(b'{"status":%d,"answer":%s}' % (status, payload) for status, payload in answers)
        return b'{"type":"ack","seq":%d,"results":[%s]}' % (seq, results), True


def _error(error: str, message: str, seq: int | None = None) -> dict:
    return {"type": "error", "error": error, "message": message, "seq": seq}


async def _send(send, frame: dict | bytes) -> None:
    await send(
        {"type": "websocket.send", "bytes": frame if isinstance(frame, bytes) else orjson.dumps(frame)}
    )


async def _close(send, frame: dict | bytes) -> None:
    await _send(send, frame)
    await send({"type": "websocket.close", "code": POLICY_VIOLATION})


def mount_signal_stream(app, service: ExecutionService, verifier: Verifier) -> None:
    """Serve ``/signals/stream`` on ``app``, its handshakes checked by ``verifier``."""
    app.add_middleware(SignalStream, service=service, verifier=verifier)
