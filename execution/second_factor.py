"""A second factor for operator actions: TOTP (RFC 6238), one-time recovery codes, and lockout.

Enrolment (``kimera operator enrol``) makes a TOTP secret, given to the service as the secret
``operator_totp`` (sealed like any other), and ten recovery codes, of which only SHA-256 hashes are
kept. From then on the service asks for a code before an operator action: releasing the kill
switch, changing risk limits, opening the status page's controls; and ``kimera keys`` /
``kimera audit new-key`` ask before making keys. A code is accepted once (its 30-second step, or
the recovery code, cannot be used again), and ``max_failures`` wrong codes in a row lock every
operator action for ``lockout_s``: long enough that guessing 10^6 codes takes years. Failures,
lockout and used codes are kept in a file, so a restart neither unlocks nor forgets.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pyotp

SECRET_NAME = "operator_totp"
HEADER = "X-Kimera-OTP"
STEP_S = 30


class Refused(Exception):
    """The second factor did not pass; ``reason``: missing, wrong, reused or locked."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def recovery_code() -> str:
    """A fresh recovery code: 10 base32 characters (50 bits) shown as xxxxx-xxxxx."""
    raw = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz234567") for _ in range(10))
    return f"{raw[:5]}-{raw[5:]}"


def _hash(code: str) -> str:
    return hashlib.sha256(code.strip().lower().replace("-", "").encode()).hexdigest()


class SecondFactor:
    """Checks codes for operator actions; its state lives in ``state_path`` (mode 600)."""

    def __init__(
        self,
        totp_secret: str,
        state_path: Path,
        max_failures: int = 5,
        lockout_s: float = 300.0,
        clock: Callable[[], float] = time.time,
    ):
        self._totp = pyotp.TOTP(totp_secret, interval=STEP_S)
        self.state_path, self.max_failures, self.lockout_s, self.clock = (
            state_path,
            max_failures,
            lockout_s,
            clock,
        )
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SecondFactor(state={self.state_path})"

    # --- state on disk ---------------------------------------------------------------------------
    def _state(self) -> dict:
        if not self.state_path.is_file():
            return {"failures": 0, "locked_until": 0.0, "last_step": -1, "recovery": []}
        return json.loads(self.state_path.read_text())

    def _save(self, state: dict) -> None:
        tmp = self.state_path.with_name(self.state_path.name + ".tmp")
        tmp.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(state, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.state_path)

    def set_recovery_codes(self, codes: list[str]) -> None:
        """Replace the recovery codes (only their hashes are kept) and clear failures."""
        with self._lock:
            state = self._state()
            state.update(recovery=[_hash(c) for c in codes], failures=0, locked_until=0.0)
            self._save(state)

    def status(self) -> dict:
        state, now = self._state(), self.clock()
        return {"failures": state["failures"], "locked_for_s": max(0.0, state["locked_until"] - now),
                "recovery_codes_left": len(state["recovery"])}  # fmt: skip

    # --- checking --------------------------------------------------------------------------------
    def check(self, code: str | None, action: str) -> str:
        """Accept ``code`` for ``action`` once, or raise :class:`Refused`; returns "totp" or "recovery"."""
        with self._lock:
            state, now = self._state(), self.clock()
            if state["locked_until"] > now:
                raise Refused(
                    "locked",
                    f"operator actions are locked for {state['locked_until'] - now:.0f} s after "
                    f"{self.max_failures} wrong codes; wait, then use a fresh code",
                )
            if not code or not code.strip():
                raise Refused("missing", f"to {action}, give a code from your authenticator ({HEADER})")
            code = code.strip()
            used = self._match(code, state, now)
            if used is None:
                state["failures"] += 1
                left = self.max_failures - state["failures"]
                if left <= 0:
                    state["failures"], state["locked_until"] = 0, now + self.lockout_s
                    self._save(state)
                    raise Refused(
                        "locked", f"wrong code; operator actions are now locked for {self.lockout_s:.0f} s"
                    )
                self._save(state)
                raise Refused("wrong", f"wrong code to {action} ({left} tries left before a lockout)")
            if used == "reused":
                self._save(state)
                raise Refused("reused", "this code was already used; wait for the next one")
            state["failures"] = 0
            self._save(state)
            return used

    def _match(self, code: str, state: dict, now: float) -> str | None:
        if code.isdigit() and len(code) == 6:
            step = int(now // STEP_S)
            for candidate in (step, step - 1, step + 1):  # a step of clock drift either way
                if hmac.compare_digest(self._totp.at(candidate * STEP_S), code):
                    if candidate <= state["last_step"]:
                        return "reused"
                    state["last_step"] = candidate
                    return "totp"
            return None
        digest = _hash(code)
        for stored in state["recovery"]:
            if hmac.compare_digest(stored, digest):
                state["recovery"].remove(stored)
                return "recovery"
        return None


def state_path(home_dir: Path) -> Path:
    return home_dir / "execution" / "second_factor.json"


def load(settings, **kw) -> SecondFactor | None:
    """The second factor when ``operator_totp`` is given (enrolled), else None."""
    secret = settings.secret(SECRET_NAME)
    if secret is None:
        return None
    return SecondFactor(secret.get_secret_value(), state_path(settings.home_dir), **kw)


def new_enrolment() -> tuple[str, list[str]]:
    """A fresh TOTP secret (base32, 160 bits) and ten recovery codes."""
    return pyotp.random_base32(32), [recovery_code() for _ in range(10)]


def provisioning_uri(totp_secret: str, account: str = "operator") -> str:
    """The ``otpauth://`` URI an authenticator app takes (as a QR code or typed in)."""
    return pyotp.TOTP(totp_secret, interval=STEP_S).provisioning_uri(name=account, issuer_name="Kimera")


# --- the command line ---------------------------------------------------------------------------
def enrol_cli() -> None:
    """``kimera operator enrol``: the TOTP secret (sealed when an operator key is set) and recovery codes."""
    from kimera.config import ConfigError
    from kimera.settings import get_settings

    settings = get_settings()
    if settings.secret(SECRET_NAME) is not None:
        raise ConfigError(
            f"a second factor is enrolled ({SECRET_NAME}); remove that secret first to enrol again"
        )
    totp_secret, codes = new_enrolment()
    folder = settings.secrets_dir.expanduser() if settings.secrets_dir else None
    if folder is not None and settings.operator_key is not None:
        from kimera.sealing import OperatorPublic, seal

        to = OperatorPublic.load(f"{settings.operator_key.expanduser()}.pub")
        _write_new(folder / f"{SECRET_NAME}.sealed", seal(totp_secret, SECRET_NAME, to))
        print(f"sealed the TOTP secret to {folder / SECRET_NAME}.sealed")
    elif folder is not None:
        _write_new(folder / SECRET_NAME, totp_secret)
        print(
            f"wrote the TOTP secret to {folder / SECRET_NAME} (mode 600; `kimera keys seal {SECRET_NAME}` seals it)"
        )
    else:
        print("# KIMERA_SECRETS_DIR is not set; give the service the TOTP secret through the environment:")
        print(f"export KIMERA_SECRET_{SECRET_NAME.upper()}={totp_secret}")
    SecondFactor(totp_secret, state_path(settings.home_dir)).set_recovery_codes(codes)
    print("add this to your authenticator app (scan it as a QR code, or type the secret in):")
    print(f"  {provisioning_uri(totp_secret)}")
    print(
        "recovery codes (each works once, in place of a code; store them offline, they are not shown again):"
    )
    for code in codes:
        print(f"  {code}")


def require_cli(otp: str | None, action: str) -> None:
    """For a command that makes keys: nothing when no second factor is enrolled, else a code must pass."""
    from kimera.config import ConfigError
    from kimera.settings import get_settings

    factor = load(get_settings())
    if factor is None:
        return
    try:
        factor.check(otp, action)
    except Refused as exc:
        raise ConfigError(f"second factor: {exc} (give --otp CODE)") from None


def _write_new(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text + "\n")
