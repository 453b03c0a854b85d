"""What the ``kimera`` commands do for the execution service: signed calls, keys, traces."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import httpx

from kimera.config import ConfigError, load_config
from kimera.settings import get_settings
from kimera.signing import client_auth, new_secret, secret_name


def call_cli(
    method: str, path: str, data: str | None, port: int | None = None, timeout_s: float = 30.0
) -> None:
    """``kimera call METHOD PATH [--data JSON]``: one signed request to the running service; prints the answer."""
    settings = get_settings()
    config = load_config(settings=settings)
    auth = client_auth(settings, config.execution.auth.client_key)
    if not path.startswith("/"):
        raise ConfigError(f"the path must start with '/', e.g. /orders (got {path!r})")
    body = None
    if data is not None:
        text = Path(data[1:]).read_text() if data.startswith("@") else data
        try:
            json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"--data is not JSON: {exc}") from None
        body = text.encode()
    url = f"http://{config.execution.host}:{port or config.execution.port}{path}"
    headers = {"content-type": "application/json"} if body is not None else {}
    try:
        response = httpx.request(
            method.upper(), url, content=body, headers=headers, auth=auth, timeout=timeout_s
        )
    except httpx.HTTPError as exc:
        print(f"the execution service at {url} did not answer: {type(exc).__name__}", file=sys.stderr)
        sys.exit(3)
    try:
        print(json.dumps(response.json(), indent=2))
    except ValueError:
        print(response.text)
    if response.status_code >= 400:
        sys.exit(1)


def keys_new_cli(key_id: str, alg: str = "hmac") -> None:
    """``kimera keys new ID [--alg hmac|ml-dsa-65]``: a fresh key, its secret written to KIMERA_SECRETS_DIR
    when it is set; an ML-DSA-65 key's public half goes to KIMERA_HOME/keys/<id>.pub for the service."""
    import re

    if not re.match(r"^[a-z0-9][a-z0-9_]{0,31}$", key_id):
        raise ConfigError(f"key id {key_id!r}: use 1 to 32 lowercase letters, digits or '_'")
    settings = get_settings()
    name = secret_name(key_id)
    if alg == "ml-dsa-65":
        _new_mldsa_key(settings, key_id, name)
        return
    secret = new_secret()
    if settings.secrets_dir is None:
        print("# KIMERA_SECRETS_DIR is not set; give the secret through the environment:")
        print(f"export KIMERA_SECRET_{name.upper()}={secret}")
        return
    path = settings.secrets_dir.expanduser() / name
    if path.exists():
        raise ConfigError(f"{path} exists; delete it first to replace key {key_id!r} (see docs/security.md)")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret + "\n")
    print(f"wrote {path} (mode 600); add {key_id!r} to execution.auth.keys to accept it")


def trace_cli(client_order_id: str, path: Path | None) -> None:
    """``kimera audit trace ID``: an order traced back to its signal, prediction and data partitions."""
    from execution.audit import default_url
    from execution.provenance import NoSuchOrder, trace

    settings = get_settings()
    config = load_config(settings=settings)
    url = default_url(path)
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        print(f"no journal at {url.removeprefix('sqlite:///')}", file=sys.stderr)
        sys.exit(2)
    try:
        print(json.dumps(trace(url, client_order_id, config, settings.warehouse_path), indent=2, default=str))
    except NoSuchOrder:
        print(f"no order {client_order_id!r} in the journal", file=sys.stderr)
        sys.exit(1)


def _new_mldsa_key(settings, key_id: str, name: str) -> None:
    """An ML-DSA-65 API key: the private key is the client's secret, the public key the service's."""
    from kimera import pq

    public_path = settings.home_dir / "keys" / f"{key_id}.pub"
    target = None if settings.secrets_dir is None else settings.secrets_dir.expanduser() / name
    for path in (public_path, target):
        if path is not None and path.exists():
            raise ConfigError(
                f"{path} exists; delete it first to replace key {key_id!r} (see docs/security.md)"
            )
    private = pq.new_private_text()
    public_path.parent.mkdir(parents=True, exist_ok=True)
    public_path.write_bytes(pq.public_pem(pq.private_key(private)))
    if target is None:
        print("# KIMERA_SECRETS_DIR is not set; give the client its private key through the environment:")
        print(f"export KIMERA_SECRET_{name.upper()}={private}")
    else:
        _write_secret(target, private)
        print(f"wrote the client's private key to {target} (mode 600)")
    print(f"wrote the public key to {public_path}; the service needs only it:")
    print(f"  execution.auth: {{keys: [..., {key_id}], public_keys: {{{key_id}: {public_path}}}}}")


def _write_secret(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text + "\n")


def audit_new_key_cli() -> None:
    """``kimera audit new-key``: the ML-DSA-65 key that signs audit checkpoints (secret + public PEM)."""
    from execution.checkpoints import SECRET_NAME
    from kimera import pq

    settings = get_settings()
    public_path = settings.home_dir / "keys" / "audit_checkpoint.pub"
    target = None if settings.secrets_dir is None else settings.secrets_dir.expanduser() / SECRET_NAME
    for path in (public_path, target):
        if path is not None and path.exists():
            raise ConfigError(f"{path} exists; delete it first to replace the checkpoint key")
    private = pq.new_private_text()
    public_path.parent.mkdir(parents=True, exist_ok=True)
    public_path.write_bytes(pq.public_pem(pq.private_key(private)))
    if target is None:
        print("# KIMERA_SECRETS_DIR is not set; give the service its checkpoint key through the environment:")
        print(f"export KIMERA_SECRET_{SECRET_NAME.upper()}={private}")
    else:
        _write_secret(target, private)
        print(f"wrote the checkpoint signing key to {target} (mode 600)")
    print(f"wrote the public key to {public_path}: copy it off this machine; verify with")
    print(f"  kimera audit verify --public-key {public_path}")
