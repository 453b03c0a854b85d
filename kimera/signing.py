"""Signing requests to the execution service (client side): HMAC-SHA256 over what the request does.

The service (``execution/auth.py``) accepts a request when its headers carry a known key id and,
for every request that changes something, a signature of::

    <timestamp ms> \\n <nonce> \\n <METHOD> \\n <path?query> \\n <sha256 hex of the body>

made with that key's secret; the timestamp must be within the service's window (30 s by default)
and each nonce is accepted once. Anyone who calls the service (the CLI, the Dagster signals
asset, a script) uses :func:`sign_request`, or :class:`SignedAuth` with httpx. This module imports
nothing of ``execution``, so the pipelines may use it.

Secrets come from :meth:`kimera.settings.Settings.secret` (``KIMERA_SECRET_EXECUTION_KEY_<ID>`` or
the file ``<KIMERA_SECRETS_DIR>/execution_key_<id>``); see docs/security.md.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Generator

import httpx
from pydantic import SecretStr

from kimera import pq
from kimera.config import ConfigError
from kimera.settings import Settings

KEY_HEADER = "X-Kimera-Key"
TIMESTAMP_HEADER = "X-Kimera-Timestamp"
NONCE_HEADER = "X-Kimera-Nonce"
SIGNATURE_HEADER = "X-Kimera-Signature"
SECRET_PREFIX = "execution_key_"


def secret_name(key_id: str) -> str:
    """The secret holding API key ``key_id``'s signing secret (``execution_key_<id>``)."""
    return f"{SECRET_PREFIX}{key_id}"


def body_digest(body: bytes | str | None) -> str:
    data = body.encode() if isinstance(body, str) else (body or b"")
    return hashlib.sha256(data).hexdigest()


def canonical_request(timestamp: str, nonce: str, method: str, path: str, body: bytes | str | None) -> bytes:
    """The exact bytes that are signed (see the module docstring)."""
    return "\n".join((timestamp, nonce, method.upper(), path, body_digest(body))).encode()


def signature(secret: str | bytes, message: bytes) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def sign_request(
    method: str,
    path: str,
    body: bytes | str | None,
    key_id: str,
    secret: str | SecretStr,
    *,
    timestamp_ms: int | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """Headers that authenticate one request to the execution service.

    ``path`` is the request target as sent: the path and, when there is one, ``?`` and the query
    string exactly as on the wire (e.g. ``/orders?state=filled``). ``body`` is the raw body bytes
    (``None`` or ``b""`` when there is none). Each call uses a fresh nonce, so a signed request can
    be sent once only. A ``secret`` that is an ML-DSA-65 private key (``ml-dsa-65:<seed hex>``,
    :mod:`kimera.pq`) signs with ML-DSA-65 (base64, 4,412 characters); any other with HMAC-SHA256.
    """
    raw = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    ts = str(timestamp_ms if timestamp_ms is not None else int(time.time() * 1000))
    nonce = nonce or secrets.token_hex(16)
    message = canonical_request(ts, nonce, method, path, body)
    if pq.is_private_text(raw):  # an ML-DSA-65 key: the service holds only its public key
        signed = pq.sign(pq.private_key(raw), message, pq.REQUEST_CONTEXT)
    else:
        signed = signature(raw, message)
    return {KEY_HEADER: key_id, TIMESTAMP_HEADER: ts, NONCE_HEADER: nonce, SIGNATURE_HEADER: signed}


def request_target(url: httpx.URL) -> str:
    """``/path?query`` of ``url`` as it goes on the wire."""
    target = url.raw_path.decode("ascii")
    return target or "/"


class SignedAuth(httpx.Auth):
    """httpx authentication that signs every request: ``httpx.Client(auth=SignedAuth(key_id, secret))``."""

    requires_request_body = True

    def __init__(self, key_id: str, secret: SecretStr):
        self.key_id = key_id
        self._secret = secret

    def __repr__(self) -> str:
        return f"SignedAuth(key_id={self.key_id!r})"

    def sign(self, method: str, target: str, body: bytes | None) -> dict[str, str]:
        """Headers signing one request (e.g. a websocket handshake, which httpx does not send)."""
        return sign_request(method, target, body, self.key_id, self._secret)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers.update(self.sign(request.method, request_target(request.url), request.content))
        yield request


def client_auth(settings: Settings, key_id: str) -> SignedAuth:
    """:class:`SignedAuth` for ``key_id`` with its secret from the settings, or a clear error."""
    secret = settings.secret(secret_name(key_id))
    if secret is None:
        raise MissingKey(key_id)
    return SignedAuth(key_id, secret)


def new_secret() -> str:
    """A fresh signing secret (256 random bits, hex)."""
    return secrets.token_hex(32)


class MissingKey(ConfigError):
    """No secret is given for an API key id."""

    def __init__(self, key_id: str):
        name = secret_name(key_id)
        super().__init__(
            f"no secret for execution API key {key_id!r}: set KIMERA_SECRET_{name.upper()} or write it to "
            f"$KIMERA_SECRETS_DIR/{name} (`kimera keys new {key_id}` makes one)"
        )
        self.key_id = key_id
