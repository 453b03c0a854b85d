"""WebAuthn security keys as a second factor for the status page's controls (py_webauthn).

An operator who opened the controls with a TOTP code may add a security key (a platform
authenticator, a USB/NFC key); from then on the key alone opens the controls: phishing-resistant,
since the browser binds each assertion to the page's origin. Credentials (id, public key, signature
counter) are kept in ``KIMERA_HOME/execution/security_keys.json``; challenges live in memory for
two minutes and are used once. WebAuthn needs a domain as relying party: open the page at
``http://localhost:PORT``, not ``127.0.0.1``.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
from pathlib import Path
from typing import Any

import webauthn
from webauthn.helpers import bytes_to_base64url
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

CHALLENGE_S = 120.0


class KeyRefused(Exception):
    """A registration or assertion that did not pass; the message says why."""


class SecurityKeys:
    """Registered credentials and pending challenges; thread-safe."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        self._challenges: dict[str, tuple[bytes, float]] = {}  # purpose -> (challenge, expiry)

    def credentials(self) -> list[dict[str, Any]]:
        return json.loads(self.path.read_text()) if self.path.is_file() else []

    def _save(self, credentials: list[dict[str, Any]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(credentials, handle)
        os.replace(tmp, self.path)

    def _challenge(self, purpose: str) -> bytes:
        challenge = secrets.token_bytes(32)
        self._challenges[purpose] = (challenge, time.monotonic() + CHALLENGE_S)
        return challenge

    def _take(self, purpose: str) -> bytes:
        challenge, expiry = self._challenges.pop(purpose, (b"", 0.0))
        if not challenge or expiry < time.monotonic():
            raise KeyRefused("no challenge pending (or it expired): start again")
        return challenge

    @staticmethod
    def _rp(origin: str) -> str:
        host = origin.split("://", 1)[-1].rsplit(":", 1)[0]
        if host.replace(".", "").isdigit():
            raise KeyRefused(
                f"security keys need a domain: open the controls at http://localhost, not {host}"
            )
        return host

    def registration_options(self, origin: str) -> str:
        with self._lock:
            options = webauthn.generate_registration_options(
                rp_id=self._rp(origin), rp_name="Kimera", user_name="operator", user_id=b"kimera-operator",
                challenge=self._challenge("register"),
                exclude_credentials=[PublicKeyCredentialDescriptor(id=webauthn.base64url_to_bytes(c["id"]))
                                     for c in self.credentials()],
                authenticator_selection=AuthenticatorSelectionCriteria(
                    resident_key=ResidentKeyRequirement.DISCOURAGED, user_verification=UserVerificationRequirement.PREFERRED),
            )  # fmt: skip
            return webauthn.options_to_json(options)

    def register(self, credential: dict[str, Any], origin: str) -> str:
        with self._lock:
            try:
                verified = webauthn.verify_registration_response(
                    credential=credential, expected_challenge=self._take("register"),
                    expected_rp_id=self._rp(origin), expected_origin=origin,
                )  # fmt: skip
            except Exception as exc:  # py_webauthn raises several types; each means "not this key"
                raise KeyRefused(
                    f"the security key's registration does not verify ({type(exc).__name__})"
                ) from None
            key_id = bytes_to_base64url(verified.credential_id)
            self._save([*self.credentials(), {"id": key_id, "public_key": bytes_to_base64url(verified.credential_public_key),
                                              "sign_count": verified.sign_count}])  # fmt: skip
            return key_id

    def authentication_options(self, origin: str) -> str:
        with self._lock:
            known = self.credentials()
            if not known:
                raise KeyRefused("no security key is registered: open the controls with a code and add one")
            options = webauthn.generate_authentication_options(
                rp_id=self._rp(origin), challenge=self._challenge("unlock"),
                allow_credentials=[PublicKeyCredentialDescriptor(id=webauthn.base64url_to_bytes(c["id"])) for c in known],
                user_verification=UserVerificationRequirement.PREFERRED,
            )  # fmt: skip
            return webauthn.options_to_json(options)

    def authenticate(self, assertion: dict[str, Any], origin: str) -> str:
        """The credential id that signed a valid assertion (its counter moves on), or KeyRefused."""
        with self._lock:
            challenge = self._take("unlock")
            known = {c["id"]: c for c in self.credentials()}
            stored = known.get(str(assertion.get("id")))
            if stored is None:
                raise KeyRefused("this security key is not registered")
            try:
                verified = webauthn.verify_authentication_response(
                    credential=assertion, expected_challenge=challenge, expected_rp_id=self._rp(origin),
                    expected_origin=origin, credential_public_key=webauthn.base64url_to_bytes(stored["public_key"]),
                    credential_current_sign_count=stored["sign_count"],
                )  # fmt: skip
            except Exception as exc:
                raise KeyRefused(
                    f"the security key's signature does not verify ({type(exc).__name__})"
                ) from None
            stored["sign_count"] = verified.new_sign_count
            self._save(list(known.values()))
            return stored["id"]


def keys_path(home_dir: Path) -> Path:
    return home_dir / "execution" / "security_keys.json"
