"""``POST /signals``, the hot path: answered straight from ASGI, past the framework's routing,
dependency injection and response machinery (hundreds of signals a second; the framework costs more
than the decision). It reads and validates the body exactly as the documented FastAPI route does
(JSON by content type, then :class:`SignalIn`), answers the same bodies and statuses, and runs inside
whatever middleware guards the app (request signing), so nothing but the cost changes. The route in
``routes.py`` stays the OpenAPI's description and answers through :func:`answer_signal` too.
"""

from __future__ import annotations

import email.message
from decimal import Decimal
from typing import Any

import orjson
from pydantic import ValidationError

from execution.accounts.desk import ForeignAccount, UnknownStrategy
from execution.api.errors import validation_payload
from execution.api.models import SignalIn
from execution.decimal_text import plain_decimal
from execution.journal import JournalError
from execution.service import ExecutionService, SignalConflict, UnknownAsset

_JSON = [(b"content-type", b"application/json")]


def _problem(status: int, error: str, message: str, fields: list | None = None) -> tuple[int, bytes]:
    return status, orjson.dumps({"error": error, "message": message, "fields": fields or []})


async def answer_signal(
    service: ExecutionService, signal: SignalIn, key_id: str | None = None
) -> tuple[int, bytes]:
    """(status, JSON body) of the answer to one valid signal; ``key_id`` signed it (None: unsigned app)."""
    try:
        answer = await service.handle_signal(_body(signal), key_id=key_id)
    except (SignalConflict, ForeignAccount, UnknownStrategy, UnknownAsset, JournalError) as exc:
        return _refused(signal, exc)
    return 200, orjson.dumps(answer, default=_json_value)


async def answer_signals(
    service: ExecutionService, signals: list[SignalIn], key_id: str | None = None
) -> list[tuple[int, bytes]]:
    """(status, JSON body) for each of ``signals``, as :func:`answer_signal` would answer it, the
    whole list decided in order and journaled in one unit (:meth:`ExecutionService.handle_signals`)."""
    results = await service.handle_signals([_body(s) for s in signals], key_id=key_id)
    out = []
    for signal, result in zip(signals, results, strict=True):
        if isinstance(result, (SignalConflict, ForeignAccount, UnknownStrategy, UnknownAsset, JournalError)):
            out.append(_refused(signal, result))
        elif isinstance(result, Exception):  # a fault of ours: named, and the other signals still answered
            out.append(_problem(500, "internal_error", f"{type(result).__name__} deciding this signal"))
        else:
            out.append((200, orjson.dumps(result, default=_json_value)))
    return out


def _body(signal: SignalIn) -> dict[str, Any]:
    # without a strategy the body is as before accounts (its hash decides idempotency)
    return signal.model_dump(mode="json", exclude={"strategy"} if signal.strategy is None else None)


def _refused(signal: SignalIn, exc: Exception) -> tuple[int, bytes]:
    if isinstance(exc, SignalConflict):
        return _problem(409, "signal_conflict", str(exc))
    if isinstance(exc, ForeignAccount):
        return _problem(403, "wrong_account", str(exc))
    if isinstance(exc, UnknownStrategy):
        field = {"field": "strategy", "given": signal.strategy, "accepted": str(exc)}
        return _problem(422, "invalid_request", f"strategy: {exc}", [field])
    if isinstance(exc, UnknownAsset):
        field = {"field": "asset", "given": signal.asset, "accepted": str(exc)}
        return _problem(422, "invalid_request", f"asset: {exc}", [field])
    return _problem(503, "journal_unavailable", f"the decision could not be made durable: {exc}")


def _json_value(value: object) -> str:
    """Decimals as plain text (``0``, not ``0E-8``); anything else orjson cannot write, as text."""
    return plain_decimal(value) if isinstance(value, Decimal) else str(value)


def _is_json(content_type: str | None) -> bool:
    if content_type == "application/json":  # the usual case, without parsing the header
        return True
    if not content_type:
        return False
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


def read_signal(body: bytes, content_type: str | None) -> SignalIn | list[dict[str, Any]]:
    """The signal in ``body``, or the validation errors FastAPI would report (locations under ``body``)."""
    data: Any = None
    if body:
        if _is_json(content_type):
            try:
                data = orjson.loads(body)
            except orjson.JSONDecodeError as exc:
                return [{"type": "json_invalid", "loc": ("body", exc.pos), "msg": "JSON decode error", "input": {},
                         "ctx": {"error": exc.msg}}]  # fmt: skip
        else:
            data = body
    if data is None:
        return [{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}]
    try:
        return SignalIn.model_validate(data, from_attributes=True)  # as FastAPI validates a body
    except ValidationError as exc:
        return [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]


class SignalIntake:
    """ASGI middleware answering ``POST /signals`` for ``service``; everything else passes on."""

    def __init__(self, app, service: ExecutionService):
        self.app, self.service = app, service

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["path"] != "/signals" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        chunks, more = [], True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        content_type = None
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value.decode("latin-1")
        signal = read_signal(b"".join(chunks), content_type)
        if isinstance(signal, list):
            status, payload = 422, orjson.dumps(validation_payload(signal))
        else:
            status, payload = await answer_signal(self.service, signal, scope.get("state", {}).get("key_id"))
        headers = [*_JSON, (b"content-length", b"%d" % len(payload))]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
