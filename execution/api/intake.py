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
        # without a strategy the body is as before accounts (its hash decides idempotency)
        body = signal.model_dump(mode="json", exclude={"strategy"} if signal.strategy is None else None)
        answer = await service.handle_signal(body, key_id=key_id)
    except SignalConflict as exc:
        return _problem(409, "signal_conflict", str(exc))
    except ForeignAccount as exc:
        return _problem(403, "wrong_account", str(exc))
    except UnknownStrategy as exc:
        field = {"field": "strategy", "given": signal.strategy, "accepted": str(exc)}
        return _problem(422, "invalid_request", f"strategy: {exc}", [field])
    except UnknownAsset as exc:
        field = {"field": "asset", "given": signal.asset, "accepted": str(exc)}
        return _problem(422, "invalid_request", f"asset: {exc}", [field])
    except JournalError as exc:
        return _problem(503, "journal_unavailable", f"the decision could not be made durable: {exc}")
    return 200, orjson.dumps(answer, default=_json_value)


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
