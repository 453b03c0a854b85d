"""Who may call the execution service: API key ids, HMAC-signed requests, a replay window with nonces.

Every request but the public paths (``/healthz``, ``/metrics``) names its key in ``X-Kimera-Key``;
every request that changes something (any method but GET/HEAD/OPTIONS) is signed as
:mod:`kimera.signing` describes, with a timestamp inside ``auth.window_s`` and a nonce never used
before within that window. Anything else is answered ``401`` with the reason (never a secret).

Secrets are loaded through :meth:`Settings.secret` (``execution_key_<id>``) for each id in
``execution.auth.keys``; several ids are accepted at once so keys can be rotated without downtime
(docs/security.md). They are held as ``SecretStr``, compared in constant time, and registered with
:mod:`execution.redact` so no log line can carry one.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hmac
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from pydantic import SecretStr

from execution import redact
from execution.nonces import NonceReused, NonceStore, NonceStoreClosed, NonceStoreFull
from kimera import pq
from kimera.config import ConfigError, ExecutionAuth
from kimera.settings import Settings
from kimera.signing import (
    KEY_HEADER,
    NONCE_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    MissingKey,
    canonical_request,
    secret_name,
    signature,
)

log = logging.getLogger("kimera.execution.auth")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_BODY = 1 << 20  # signals are a few hundred bytes; nothing legitimate is near this
_PRINTABLE_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
_NONCE = re.compile(r"^[A-Za-z0-9_\-]{16,128}$")
_SIGNATURE = re.compile(r"^[0-9a-f]{64}$")
_PQ_SIGNATURE = re.compile(rf"^[A-Za-z0-9+/]{{{pq.SIGNATURE_B64_CHARS}}}$")


class Unauthorized(Exception):
    """A request that is refused; ``reason`` is a short code, the message says what to fix."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


class ApiKeys:
    """The accepted key ids: HMAC secrets, and ML-DSA-65 public keys. Its repr names the ids only."""

    def __init__(self, keys: dict[str, SecretStr], public: dict[str, pq.MLDSA65PublicKey] | None = None):
        self._keys = dict(keys)
        self._public = dict(public or {})
        for secret in self._keys.values():
            redact.register(secret.get_secret_value())

    @classmethod
    def load(cls, cfg: ExecutionAuth, settings: Settings) -> ApiKeys:
        """Every configured key: its public key file (``public_keys``) or its secret.

        Raises :class:`MissingKey` naming the first id without a secret, or a ``ConfigError`` naming
        a public key file that is missing or not ML-DSA-65.
        """
        keys, public = {}, {}
        for key_id, path in cfg.public_keys.items():
            try:
                public[key_id] = pq.load_public(path)
            except pq.KeyFormatError as exc:
                raise ConfigError(f"execution API key {key_id!r}: {exc}") from None
        for key_id in cfg.keys:
            if key_id in public:
                continue
            secret = settings.secret(secret_name(key_id))
            if secret is None or not secret.get_secret_value():
                raise MissingKey(key_id)
            if len(secret.get_secret_value()) < 16:
                raise ValueError(
                    f"the secret of execution API key {key_id!r} is too short: 16 characters at least "
                    "(`kimera keys new` makes 64 random hex digits)"
                )
            keys[key_id] = secret
        return cls(keys, public)

    def ids(self) -> list[str]:
        return [*self._keys, *self._public]

    def secret(self, key_id: str) -> SecretStr | None:
        return self._keys.get(key_id)

    def public(self, key_id: str) -> pq.MLDSA65PublicKey | None:
        return self._public.get(key_id)

    def __repr__(self) -> str:
        return f"ApiKeys(ids={self.ids()})"


class Verifier:
    """Checks one request's headers and body; remembers nonces for the replay window."""

    def __init__(
        self,
        keys: ApiKeys,
        window_s: float = 30.0,
        signed_reads: bool = False,
        max_nonces: int = 500_000,
        nonces: NonceStore | None = None,
    ):
        self.keys, self.window_s, self.signed_reads = keys, window_s, signed_reads
        self.nonces = nonces if nonces is not None else NonceStore(max_nonces=max_nonces)

    def verify(
        self, method: str, target: str, headers: dict[str, str], body: bytes, now: float | None = None
    ) -> str:
        """The key id a valid request was made with; raises :class:`Unauthorized` otherwise.

        Waits until the request's nonce is on disk (when the store has a file); an event loop
        awaits :meth:`verify_async` instead."""
        key_id, durable = self.check(method, target, headers, body, now)
        if durable is not None:
            _durable_or_refuse(durable.result)
        return key_id

    async def verify_async(
        self, method: str, target: str, headers: dict[str, str], body: bytes, now: float | None = None
    ) -> str:
        """:meth:`verify` without blocking the loop while the nonce is written."""
        key_id, durable = self.check(method, target, headers, body, now)
        if durable is not None:
            try:
                await asyncio.wrap_future(durable)
            except NonceStoreClosed as exc:
                raise Unauthorized("unavailable", f"the replay guard cannot record nonces: {exc}") from None
        return key_id

    def check(
        self, method: str, target: str, headers: dict[str, str], body: bytes, now: float | None = None
    ) -> tuple[str, concurrent.futures.Future[None] | None]:
        """(key id, the nonce's write on disk or None): the request is valid once that resolves.

        Raises :class:`Unauthorized` for a bad request; its nonce is used (a replay is refused)
        from the moment this returns."""
        key_id = headers.get(KEY_HEADER.lower())
        if not key_id:
            raise Unauthorized("missing_key", f"the {KEY_HEADER} header is required")
        secret, public = self.keys.secret(key_id), self.keys.public(key_id)
        if secret is None and public is None:
            shown = key_id if _PRINTABLE_ID.match(key_id) else "(unprintable)"
            raise Unauthorized("unknown_key", f"API key id {shown!r} is not accepted")
        signed = SIGNATURE_HEADER.lower() in headers
        if method.upper() in SAFE_METHODS and not self.signed_reads and not signed:
            return key_id, None
        if not signed:
            raise Unauthorized(
                "unsigned",
                f"{method.upper()} requests must be signed: headers {TIMESTAMP_HEADER}, {NONCE_HEADER}, "
                f"{SIGNATURE_HEADER} (see docs/security.md)",
            )
        ts, nonce = headers.get(TIMESTAMP_HEADER.lower(), ""), headers.get(NONCE_HEADER.lower(), "")
        given = headers.get(SIGNATURE_HEADER.lower(), "")
        if not ts.isdigit() or len(ts) > 16:
            raise Unauthorized("bad_timestamp", f"{TIMESTAMP_HEADER} must be milliseconds since the epoch")
        if not _NONCE.match(nonce):
            raise Unauthorized("bad_nonce", f"{NONCE_HEADER} must be 16 to 128 letters, digits, '-' or '_'")
        if public is not None and not _PQ_SIGNATURE.match(given):
            raise Unauthorized(
                "bad_signature",
                f"{SIGNATURE_HEADER} must be the base64 ML-DSA-65 signature ({pq.SIGNATURE_B64_CHARS} characters)",
            )
        if public is None and not _SIGNATURE.match(given):
            raise Unauthorized("bad_signature", f"{SIGNATURE_HEADER} must be 64 lowercase hex digits")
        now = time.time() if now is None else now
        skew = abs(now - int(ts) / 1000.0)
        if skew > self.window_s:
            raise Unauthorized(
                "stale",
                f"the request's timestamp is {skew:.1f} s away from the service's clock (window {self.window_s:g} s)",
            )
        message = canonical_request(ts, nonce, method, target, body)
        if public is not None:
            valid = pq.verify(public, given, message, pq.REQUEST_CONTEXT)
        else:
            valid = hmac.compare_digest(signature(secret.get_secret_value(), message), given)
        if not valid:
            raise Unauthorized("forged", "the signature does not match the request")
        return key_id, self._use_nonce(key_id, nonce, now)

    def _use_nonce(self, key_id: str, nonce: str, now: float) -> concurrent.futures.Future[None] | None:
        try:  # kept for twice the window: a timestamp may be up to window_s ahead of our clock
            return self.nonces.use(key_id, nonce, now, now + 2 * self.window_s)
        except NonceReused:
            raise Unauthorized(
                "replayed", "this nonce was already used: a request is accepted once"
            ) from None
        except NonceStoreFull:
            raise Unauthorized("busy", "too many signed requests in the replay window; slow down") from None
        except NonceStoreClosed as exc:
            raise Unauthorized("unavailable", f"the replay guard cannot record nonces: {exc}") from None


def _durable_or_refuse(wait: Callable[[], None]) -> None:
    try:
        wait()
    except NonceStoreClosed as exc:
        raise Unauthorized("unavailable", f"the replay guard cannot record nonces: {exc}") from None


Asgi = Callable[
    [MutableMapping[str, Any], Callable[[], Awaitable[dict]], Callable[[dict], Awaitable[None]]],
    Awaitable[None],
]


class SignedRequests:
    """ASGI middleware: every request outside ``public_paths`` must pass the :class:`Verifier`."""

    def __init__(self, app: Asgi, verifier: Verifier, public_paths: list[str], on_refusal=None):
        self.app, self.verifier = app, verifier
        self.public_paths = frozenset(public_paths)
        self.on_refusal = on_refusal or (lambda reason: None)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["path"] in self.public_paths:
            await self.app(scope, receive, send)
            return
        body, more = bytearray(), True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > MAX_BODY:
                await _answer(send, 413, "too_large", f"request bodies are limited to {MAX_BODY} bytes")
                return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            key_id = await self.verifier.verify_async(scope["method"], _target(scope), headers, bytes(body))
        except Unauthorized as exc:
            self.on_refusal(exc.reason)
            log.warning("refused %s %s: %s", scope["method"], scope["path"], exc)
            await _answer(send, 401, "unauthorized", str(exc), reason=exc.reason)
            return
        scope.setdefault("state", {})["key_id"] = key_id  # who signed: an account's key acts for it only
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _target(scope: MutableMapping[str, Any]) -> str:
    """``/path?query`` as sent (servers differ on whether raw_path holds the query)."""
    raw = scope.get("raw_path") or scope["path"].encode()
    path = raw.split(b"?", 1)[0].decode("latin-1")
    query = scope.get("query_string") or b""
    return f"{path}?{query.decode('latin-1')}" if query else path


async def _answer(send, status: int, error: str, message: str, reason: str | None = None) -> None:
    payload = {"error": error, "message": message}
    if reason:
        payload["reason"] = reason
    data = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b'KimeraHMAC realm="kimera-execution"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


def secure_app(
    app, keys: ApiKeys, cfg: ExecutionAuth, registry=None, nonces: NonceStore | None = None
) -> Verifier:
    """Put signed-request checking in front of ``app`` (a FastAPI app) and describe it in its OpenAPI.

    ``registry`` (a Prometheus registry) gets ``kimera_execution_auth_refusals_total{reason}``;
    ``nonces`` (default: in memory) remembers used nonces, on disk when it has a file.
    """
    verifier = Verifier(keys, cfg.window_s, cfg.signed_reads, nonces=nonces)
    counter = None
    if registry is not None:
        from prometheus_client import Counter

        counter = Counter(
            "kimera_execution_auth_refusals",
            "Requests refused by authentication",
            ["reason"],
            registry=registry,
        )
    app.add_middleware(
        SignedRequests,
        verifier=verifier,
        public_paths=list(cfg.public_paths),
        on_refusal=(lambda reason: counter.labels(reason).inc()) if counter is not None else None,
    )
    _document(app, cfg)
    return verifier


def _document(app, cfg: ExecutionAuth) -> None:
    """Security schemes in the OpenAPI so /docs and schema-driven clients know the headers."""
    from fastapi.openapi.utils import get_openapi

    def openapi() -> dict:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
        schemes["KeyId"] = {"type": "apiKey", "in": "header", "name": KEY_HEADER}
        for name in (TIMESTAMP_HEADER, NONCE_HEADER, SIGNATURE_HEADER):
            schemes[name.removeprefix("X-Kimera-")] = {"type": "apiKey", "in": "header", "name": name}
        signed = {"KeyId": [], "Timestamp": [], "Nonce": [], "Signature": []}
        for path, ops in schema.get("paths", {}).items():
            if path in cfg.public_paths:
                continue
            for method, op in ops.items():
                needs = signed if method.upper() not in SAFE_METHODS or cfg.signed_reads else {"KeyId": []}
                op["security"] = [needs]
        schema["info"]["description"] += (
            " Authentication: every request but " + ", ".join(cfg.public_paths) + f" carries {KEY_HEADER}; "
            "every mutating request is signed with HMAC-SHA256 or ML-DSA-65 (docs/security.md)."
        )
        app.openapi_schema = schema
        return schema

    app.openapi = openapi
