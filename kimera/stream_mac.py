"""The streaming signal intake's wire format, shared by the service and its clients.

A client opens ``GET /signals/stream`` as a websocket, the handshake signed like any other request
(:mod:`kimera.signing`). The service answers a ``hello`` frame with a connection id and a fresh
per-connection session key. Every message after that is::

    {"seq": N, "mac": "<64 hex>"}\\n<body>

where ``body`` is one signal per line (NDJSON, the same JSON ``POST /signals`` takes), ``N`` counts
1, 2, 3... on this connection, and ``mac`` is HMAC-SHA256 under the session key over
``connection id \\n N \\n body``. A message changed in flight, sent twice or out of order fails.
"""

from __future__ import annotations

import hashlib
import hmac

import orjson

STREAM_PATH = "/signals/stream"
MAX_SIGNALS_PER_MESSAGE = 5000
MAX_MESSAGE_BYTES = 4 << 20


class BadFrame(ValueError):
    """A message whose header cannot be read; the text says what is expected."""


def message_mac(session_key: bytes, connection_id: str, seq: int, body: bytes) -> str:
    """The MAC a message with sequence number ``seq`` and ``body`` carries on ``connection_id``."""
    signed = b"%s\n%d\n" % (connection_id.encode(), seq) + body
    return hmac.new(session_key, signed, hashlib.sha256).hexdigest()


def encode_message(session_key: bytes, connection_id: str, seq: int, signals: list[bytes]) -> bytes:
    """One message carrying ``signals`` (each one signal's JSON bytes, without newlines)."""
    body = b"\n".join(signals)
    header = b'{"seq":%d,"mac":"%s"}' % (seq, message_mac(session_key, connection_id, seq, body).encode())
    return header + b"\n" + body


def decode_header(message: bytes) -> tuple[int, str, bytes]:
    """(seq, mac, body) of ``message``; raises :class:`BadFrame` naming what is wrong."""
    head, sep, body = message.partition(b"\n")
    if not sep:
        raise BadFrame(
            'a message is a header line {"seq": N, "mac": "<hex>"}, a newline, then NDJSON signals'
        )
    try:
        header = orjson.loads(head)
    except orjson.JSONDecodeError:
        raise BadFrame("the header line is not JSON") from None
    seq = header.get("seq") if isinstance(header, dict) else None
    mac = header.get("mac") if isinstance(header, dict) else None
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise BadFrame("the header's seq must be a positive integer")
    if not isinstance(mac, str) or len(mac) != 64:
        raise BadFrame("the header's mac must be 64 lowercase hex digits (HMAC-SHA256)")
    return seq, mac, body
