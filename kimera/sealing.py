"""Sealed secrets: a secret at rest encrypted to an operator key with a hybrid KEM (X25519 + ML-KEM-768).

A sealed secret ``<secrets_dir>/<name>.sealed`` can only be opened with the operator's private key.
Sealing runs both key encapsulations, X25519 (classical) and ML-KEM-768 (FIPS 203, post-quantum),
and derives the AES-256-GCM key from both shared secrets with HKDF-SHA256 over everything that was
exchanged, so the seal holds while either of the two holds. The secret's name is the AEAD's
associated data: a sealed wallet key renamed to an API key's file does not open.

The operator key is a JSON file, mode 600, optionally protected by a passphrase (scrypt, then
AES-256-GCM); its public half (``<file>.pub``) is all that sealing needs. Unsealing happens in
memory only (:meth:`kimera.settings.Settings.secret`); nothing here writes a plaintext to disk.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.mlkem import MLKEM768PrivateKey, MLKEM768PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from kimera.config import ConfigError

SEALED_FORMAT = "kimera-sealed-v1"
KEY_FORMAT = "kimera-operator-key-v1"
PUBLIC_FORMAT = "kimera-operator-public-v1"
SUFFIX = ".sealed"
_SCRYPT = {"n": 2**15, "r": 8, "p": 1}  # ~50 ms and 32 MiB per try: slow for guessing, fine at start


class SealError(ConfigError):
    """A sealed file or an operator key that cannot be used; the message never holds a secret."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (ValueError, TypeError):
        raise SealError(f"{what} is not base64") from None


def _raw(key: X25519PublicKey | X25519PrivateKey) -> bytes:
    if isinstance(key, X25519PrivateKey):
        return key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@dataclass(frozen=True)
class OperatorPublic:
    x25519: X25519PublicKey
    mlkem: MLKEM768PublicKey

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(_raw(self.x25519) + self.mlkem.public_bytes_raw()).hexdigest()[:16]

    def to_json(self) -> str:
        return json.dumps({"format": PUBLIC_FORMAT, "x25519": _b64(_raw(self.x25519)),
                           "mlkem768": _b64(self.mlkem.public_bytes_raw())}, indent=1)  # fmt: skip

    @classmethod
    def load(cls, path: Path | str) -> OperatorPublic:
        data = _json(Path(path), PUBLIC_FORMAT, "an operator public key")
        try:
            return cls(
                X25519PublicKey.from_public_bytes(_unb64(data["x25519"], "x25519")),
                MLKEM768PublicKey.from_public_bytes(_unb64(data["mlkem768"], "mlkem768")),
            )
        except (KeyError, ValueError):
            raise SealError(f"{path}: the operator public key is damaged") from None


class OperatorKey:
    """The operator's private key (X25519 + ML-KEM-768). Its repr names the fingerprint only."""

    def __init__(self, x25519: X25519PrivateKey, mlkem: MLKEM768PrivateKey):
        self._x25519, self._mlkem = x25519, mlkem
        self.public = OperatorPublic(x25519.public_key(), mlkem.public_key())

    def __repr__(self) -> str:
        return f"OperatorKey(fingerprint={self.public.fingerprint})"

    @classmethod
    def generate(cls) -> OperatorKey:
        return cls(X25519PrivateKey.generate(), MLKEM768PrivateKey.generate())

    def save(self, path: Path, passphrase: str | None) -> None:
        """Write the key (mode 600, refusing to overwrite) and its public half to ``<path>.pub``."""
        secret = _raw(self._x25519) + self._mlkem.private_bytes_raw()  # 32 + 64 bytes
        if passphrase:
            salt, nonce = os.urandom(16), os.urandom(12)
            kek = Scrypt(salt=salt, length=32, **_SCRYPT).derive(passphrase.encode())
            body = {"protection": "scrypt-aes256gcm", "salt": _b64(salt), "nonce": _b64(nonce), **_SCRYPT,
                    "key": _b64(AESGCM(kek).encrypt(nonce, secret, KEY_FORMAT.encode()))}  # fmt: skip
        else:
            body = {"protection": "none", "key": _b64(secret)}
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(json.dumps({"format": KEY_FORMAT, **body}, indent=1))
        Path(f"{path}.pub").write_text(self.public.to_json())

    @classmethod
    def load(cls, path: Path | str, passphrase: str | None = None) -> OperatorKey:
        """The key in ``path``; a protected key needs its ``passphrase`` (a wrong one is a SealError)."""
        data = _json(Path(path), KEY_FORMAT, "an operator key")
        if data.get("protection") == "scrypt-aes256gcm":
            if not passphrase:
                raise SealError(f"{path} is protected by a passphrase: set KIMERA_OPERATOR_PASSPHRASE")
            salt, nonce = _unb64(data["salt"], "salt"), _unb64(data["nonce"], "nonce")
            kek = Scrypt(salt=salt, length=32, n=data["n"], r=data["r"], p=data["p"]).derive(
                passphrase.encode()
            )
            try:
                secret = AESGCM(kek).decrypt(nonce, _unb64(data["key"], "key"), KEY_FORMAT.encode())
            except InvalidTag:
                raise SealError(f"{path}: wrong passphrase for the operator key") from None
        elif data.get("protection") == "none":
            secret = _unb64(data["key"], "key")
        else:
            raise SealError(
                f"{path}: unknown protection {data.get('protection')!r} (scrypt-aes256gcm or none)"
            )
        if len(secret) != 96:
            raise SealError(f"{path}: the operator key is damaged")
        return cls(
            X25519PrivateKey.from_private_bytes(secret[:32]), MLKEM768PrivateKey.from_seed_bytes(secret[32:])
        )

    def unseal(self, sealed: bytes | str, name: str) -> str:
        """The secret ``name`` that ``sealed`` (a sealed file's content) holds."""
        data = _parse(sealed, SEALED_FORMAT, f"sealed secret {name!r}")
        missing = {"recipient", "x25519", "mlkem768", "nonce", "ciphertext"} - set(data)
        if missing:
            raise SealError(f"sealed secret {name!r} is damaged: no {sorted(missing)}")
        if data.get("recipient") != self.public.fingerprint:
            raise SealError(
                f"sealed secret {name!r} was sealed to operator key {data.get('recipient')}, not to this one "
                f"({self.public.fingerprint})"
            )
        ephemeral = _unb64(data["x25519"], "x25519")
        kem_ct = _unb64(data["mlkem768"], "mlkem768")
        try:
            ss_x = self._x25519.exchange(X25519PublicKey.from_public_bytes(ephemeral))
            ss_k = self._mlkem.decapsulate(kem_ct)
        except ValueError:
            raise SealError(f"sealed secret {name!r} is damaged") from None
        key = _derive(ss_x, ss_k, ephemeral, kem_ct, self.public)
        try:
            plain = AESGCM(key).decrypt(
                _unb64(data["nonce"], "nonce"), _unb64(data["ciphertext"], "ciphertext"), name.encode()
            )
        except InvalidTag:
            raise SealError(
                f"sealed secret {name!r} does not open: altered, or sealed under another name"
            ) from None
        return plain.decode()


def seal(secret: str, name: str, to: OperatorPublic) -> str:
    """The sealed file's content for secret ``name`` (only ``to``'s private key opens it)."""
    ephemeral = X25519PrivateKey.generate()
    ss_x = ephemeral.exchange(to.x25519)
    ss_k, kem_ct = to.mlkem.encapsulate()
    eph_raw = _raw(ephemeral.public_key())
    nonce = os.urandom(12)
    ciphertext = AESGCM(_derive(ss_x, ss_k, eph_raw, kem_ct, to)).encrypt(
        nonce, secret.encode(), name.encode()
    )
    return json.dumps({"format": SEALED_FORMAT, "name": name, "recipient": to.fingerprint, "x25519": _b64(eph_raw),
                       "mlkem768": _b64(kem_ct), "nonce": _b64(nonce), "ciphertext": _b64(ciphertext)}, indent=1)  # fmt: skip


def _derive(ss_x: bytes, ss_k: bytes, eph: bytes, kem_ct: bytes, to: OperatorPublic) -> bytes:
    """HKDF over both shared secrets, bound to the whole exchange (X-Wing-style combiner)."""
    info = SEALED_FORMAT.encode() + eph + kem_ct + _raw(to.x25519) + to.mlkem.public_bytes_raw()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(ss_k + ss_x)


def _json(path: Path, fmt: str, what: str) -> dict:
    if not path.is_file():
        raise SealError(f"no {what} at {path}")
    return _parse(path.read_text(), fmt, f"{path}")


def _parse(text: bytes | str, fmt: str, what: str) -> dict:
    try:
        data = json.loads(text)
    except ValueError:
        raise SealError(f"{what} is not a {fmt} file") from None
    if not isinstance(data, dict) or data.get("format") != fmt:
        raise SealError(f"{what} is not a {fmt} file")
    return data


_loaded: dict[tuple[str, int], OperatorKey] = {}


def operator_key(path: Path, passphrase: str | None) -> OperatorKey:
    """The operator key at ``path``, loaded once per process (scrypt is slow on purpose)."""
    path = path.expanduser()
    if not path.is_file():
        raise SealError(f"no operator key at {path} (`kimera keys operator-new` makes one)")
    cache_key = (str(path.resolve()), path.stat().st_mtime_ns)
    if cache_key not in _loaded:
        _loaded[cache_key] = OperatorKey.load(path, passphrase)
    return _loaded[cache_key]
