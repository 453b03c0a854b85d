"""A client of the execution service's streaming intake (``GET /signals/stream``, :mod:`kimera.stream_mac`).

``await SignalStreamClient.connect(url, key_id, secret)`` signs the websocket handshake with the API
key, reads the service's ``hello`` (connection id, session key) and then sends batches of signals,
each message MAC'd with the next sequence number. ``send`` queues a message and returns its seq;
``ack`` waits for the next answer, so several messages can be in flight. Its repr names the key id
and the connection only: neither the API secret nor the session key.
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import SecretStr
from websockets.asyncio.client import ClientConnection, connect

from kimera.signing import SignedAuth, sign_request
from kimera.stream_mac import STREAM_PATH, encode_message


class StreamRefused(RuntimeError):
    """The service answered with an error frame; ``error`` is its code (``bad_mac``, ``unauthorized``...)."""

    def __init__(self, frame: dict[str, Any]):
        super().__init__(f"{frame.get('error')}: {frame.get('message')}")
        self.error, self.frame = frame.get("error"), frame


class SignalStreamClient:
    def __init__(self, ws: ClientConnection, key_id: str, connection_id: str, session_key: bytes):
        self._ws, self.key_id, self.connection_id = ws, key_id, connection_id
        self._session_key = session_key
        self.next_seq = 1

    def __repr__(self) -> str:
        return f"SignalStreamClient(key_id={self.key_id!r}, connection_id={self.connection_id!r}, next_seq={self.next_seq})"

    @classmethod
    async def connect(cls, url: str, key_id: str, secret: str | SecretStr, open_timeout_s: float = 10.0):
        """Open a stream to the service at ``url`` (``http://host:port``); raises :class:`StreamRefused`."""
        return await cls.connect_signed(
            url, key_id, sign_request("GET", STREAM_PATH, b"", key_id, secret), open_timeout_s
        )

    @classmethod
    async def connect_with(cls, url: str, auth: SignedAuth, open_timeout_s: float = 10.0):
        """:meth:`connect` with the key of ``auth`` (what ``kimera live`` holds)."""
        return await cls.connect_signed(url, auth.key_id, auth.sign("GET", STREAM_PATH, b""), open_timeout_s)

    @classmethod
    async def connect_signed(cls, url: str, key_id: str, headers: dict[str, str], open_timeout_s: float):
        ws_url = url.rstrip("/").replace("http://", "ws://", 1).replace("https://", "wss://", 1) + STREAM_PATH
        ws = await connect(
            ws_url,
            additional_headers=headers,
            open_timeout=open_timeout_s,
            max_size=64 << 20,
            compression=None,
        )
        hello = orjson.loads(await ws.recv())
        if hello.get("type") != "hello":
            await ws.close()
            raise StreamRefused(hello)
        return cls(ws, key_id, hello["connection_id"], bytes.fromhex(hello["session_key"]))

    async def send(self, signals: list[dict[str, Any] | bytes]) -> int:
        """Send one message carrying ``signals`` (dicts or their JSON bytes); its sequence number."""
        seq = self.next_seq
        lines = [s if isinstance(s, bytes) else orjson.dumps(s) for s in signals]
        await self._ws.send(encode_message(self._session_key, self.connection_id, seq, lines))
        self.next_seq += 1
        return seq

    async def send_raw(self, message: bytes) -> None:
        """Send ``message`` as it is (what a test uses to send a tampered or replayed message)."""
        await self._ws.send(message)

    async def ack(self) -> dict[str, Any]:
        """The next answer: ``{"type": "ack", "seq", "results": [{"status", "answer"}, ...]}``.

        Raises :class:`StreamRefused` on an error frame."""
        frame = orjson.loads(await self._ws.recv())
        if frame.get("type") != "ack":
            raise StreamRefused(frame)
        return frame

    async def submit(self, signals: list[dict[str, Any] | bytes]) -> list[dict[str, Any]]:
        """Send one message and wait for its answers (one per signal, in order)."""
        await self.send(signals)
        return (await self.ack())["results"]

    async def close(self) -> None:
        await self._ws.close()
