"""What ``kimera keys operator-new / seal / unseal`` do (docs/security.md, "Sealed secrets")."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from kimera.config import ConfigError
from kimera.sealing import SUFFIX, OperatorKey, OperatorPublic, SealError, operator_key, seal
from kimera.settings import get_settings


def operator_new_cli(path: Path, passphrase: str | None) -> None:
    """Make an operator key at ``path`` (mode 600; with a passphrase unless ``None``) and ``path.pub``."""
    path = path.expanduser()
    if path.exists():
        raise ConfigError(f"{path} exists; an operator key is never overwritten (sealed secrets need it)")
    key = OperatorKey.generate()
    key.save(path, passphrase)
    protection = "protected by your passphrase" if passphrase else "NOT passphrase-protected (mode 600 only)"
    print(f"wrote the operator key to {path} ({protection}) and its public key to {path}.pub")
    print(f"fingerprint {key.public.fingerprint}; set KIMERA_OPERATOR_KEY={path} where secrets are unsealed")


def _secrets_dir() -> Path:
    settings = get_settings()
    if settings.secrets_dir is None:
        raise ConfigError("KIMERA_SECRETS_DIR is not set: sealed secrets live there")
    return settings.secrets_dir.expanduser()


def _recipient(to: Path | None) -> OperatorPublic:
    if to is None:
        settings = get_settings()
        if settings.operator_key is None:
            raise ConfigError("give --to OPERATOR.pub, or set KIMERA_OPERATOR_KEY (its .pub is used)")
        to = Path(f"{settings.operator_key.expanduser()}.pub")
    return OperatorPublic.load(to)


def seal_cli(names: list[str], to: Path | None, from_stdin: bool) -> None:
    """Seal each secret: from its plaintext file (which is then deleted) or, with one name, from stdin."""
    folder, recipient = _secrets_dir(), _recipient(to)
    if from_stdin and len(names) != 1:
        raise ConfigError("--stdin seals exactly one secret: give one NAME")
    for name in names:
        if "/" in name or name.startswith(".") or name.endswith(SUFFIX):
            raise ConfigError(
                f"secret name {name!r}: a plain file name in the secrets folder, without {SUFFIX}"
            )
        plaintext, sealed = folder / name, folder / f"{name}{SUFFIX}"
        if sealed.exists():
            raise ConfigError(f"{sealed} exists; delete it first to seal {name!r} again")
        if from_stdin:
            value = sys.stdin.read().strip()
        elif plaintext.is_file():
            value = plaintext.read_text().strip()
        else:
            raise ConfigError(f"no secret file {plaintext} to seal (or use --stdin)")
        if not value:
            raise ConfigError(f"secret {name!r} is empty: nothing to seal")
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(sealed, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(seal(value, name, recipient))
        if plaintext.is_file():
            plaintext.unlink()  # the plaintext must not stay beside its seal (Settings refuses both)
        print(f"sealed {name} to operator key {recipient.fingerprint}: {sealed}")


def unseal_cli(name: str) -> None:
    """Print the secret ``name`` (opened in memory with the operator key) to stdout, for a pipe."""
    settings = get_settings()
    sealed = _secrets_dir() / f"{name}{SUFFIX}"
    if not sealed.is_file():
        raise ConfigError(f"no sealed secret {sealed}")
    if settings.operator_key is None:
        raise SealError("set KIMERA_OPERATOR_KEY to the operator key file")
    passphrase = settings.operator_passphrase.get_secret_value() if settings.operator_passphrase else None
    print(operator_key(settings.operator_key, passphrase).unseal(sealed.read_text(), name))
