"""Post-quantum signatures (ML-DSA-65, FIPS 204) for API keys and audit checkpoints.

A private key is kept as the text ``ml-dsa-65:<64 hex digits of its 32-byte seed>`` (a secret like
any other, read through :meth:`kimera.settings.Settings.secret`); the public key is a PEM file
(SubjectPublicKeyInfo, what OpenSSL 3.5 reads) that may be copied anywhere. Every signature carries
a FIPS 204 *context* naming what it signs, so a request signature can never pass for an audit
checkpoint or the other way round. The implementation is ``cryptography``'s (OpenSSL's).
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.mldsa import MLDSA65PrivateKey, MLDSA65PublicKey

ALG = "ml-dsa-65"
PREFIX = f"{ALG}:"
SIGNATURE_BYTES = 3309
SIGNATURE_B64_CHARS = 4412  # 3309 bytes in standard base64 (3309 = 3 x 1103: no padding)
REQUEST_CONTEXT = b"kimera-execution-request-v1"
CHECKPOINT_CONTEXT = b"kimera-audit-checkpoint-v1"


class KeyFormatError(ValueError):
    """A key file or key text that is not what it claims to be."""


def is_private_text(text: str) -> bool:
    """Whether a secret's text is an ML-DSA-65 private key (else it is an HMAC secret)."""
    return text.startswith(PREFIX)


def new_private_text() -> str:
    """A fresh ML-DSA-65 private key as secret text (``ml-dsa-65:<seed hex>``)."""
    return PREFIX + MLDSA65PrivateKey.generate().private_bytes_raw().hex()


def private_key(text: str) -> MLDSA65PrivateKey:
    """The key that secret text ``ml-dsa-65:<seed hex>`` holds; the error never repeats the text."""
    if not is_private_text(text):
        raise KeyFormatError(f"not an ML-DSA-65 private key: it must start with {PREFIX!r}")
    try:
        seed = bytes.fromhex(text.removeprefix(PREFIX).strip())
    except ValueError:
        raise KeyFormatError("ML-DSA-65 private key: the seed is not hex") from None
    if len(seed) != 32:
        raise KeyFormatError(f"ML-DSA-65 private key: the seed must be 32 bytes (got {len(seed)})")
    return MLDSA65PrivateKey.from_seed_bytes(seed)


def public_pem(key: MLDSA65PrivateKey | MLDSA65PublicKey) -> bytes:
    public = key.public_key() if isinstance(key, MLDSA65PrivateKey) else key
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_public(path: Path | str) -> MLDSA65PublicKey:
    """The ML-DSA-65 public key in the PEM file ``path``, or a :class:`KeyFormatError` naming the file."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise KeyFormatError(f"no public key file at {path}")
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except ValueError as exc:
        raise KeyFormatError(f"{path} is not a PEM public key: {exc}") from None
    if not isinstance(key, MLDSA65PublicKey):
        raise KeyFormatError(f"{path} holds a {type(key).__name__}, not an ML-DSA-65 public key")
    return key


def fingerprint(key: MLDSA65PublicKey) -> str:
    """A short name for a public key: the first 16 hex digits of SHA-256 of its raw bytes."""
    import hashlib

    return hashlib.sha256(key.public_bytes_raw()).hexdigest()[:16]


def sign(key: MLDSA65PrivateKey, message: bytes, context: bytes) -> str:
    """Base64 of the ML-DSA-65 signature of ``message`` under ``context``."""
    return base64.b64encode(key.sign(message, context)).decode("ascii")


def verify(key: MLDSA65PublicKey, signature_b64: str, message: bytes, context: bytes) -> bool:
    """Whether ``signature_b64`` is a valid signature of ``message`` under ``context``."""
    if len(signature_b64) != SIGNATURE_B64_CHARS:
        return False
    try:
        raw = base64.b64decode(signature_b64, validate=True)
        key.verify(raw, message, context)
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True
