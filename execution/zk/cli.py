"""What ``kimera audit commit / prove / verify-proof`` do."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path

from execution.zk.orders import (
    BUILD,
    ProofError,
    RootStatement,
    commit_day,
    load_openings,
    order_day,
    prove,
    verify_proof,
    zk_dir,
)
from kimera import pq
from kimera.config import ConfigError, load_config
from kimera.settings import get_settings


def _journal(path: Path | None) -> str:
    from execution.audit import default_url

    url = default_url(path)
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        raise ConfigError(f"no journal at {url.removeprefix('sqlite:///')}")
    return url


def _signing_key() -> pq.MLDSA65PrivateKey:
    from execution.checkpoints import SECRET_NAME

    secret = get_settings().secret(SECRET_NAME)
    if secret is None:
        raise ConfigError(
            f"the daily root is signed with the audit checkpoint key: set {SECRET_NAME} (`kimera audit new-key`)"
        )
    return pq.private_key(secret.get_secret_value())


def commit_cli(day: date, path: Path | None) -> RootStatement:
    """``kimera audit commit DAY``: publish the day's signed root of order commitments."""
    try:
        statement = commit_day(_journal(path), day, get_settings().home_dir, _signing_key())
    except ProofError as exc:
        raise ConfigError(str(exc)) from None
    print(f"root of {statement.day}: {statement.root} ({statement.orders} orders, signed by {statement.key})")
    print(f"published in {zk_dir(get_settings().home_dir) / f'{statement.day}.root.json'}")
    return statement


def prove_cli(client_order_id: str, out: Path | None, path: Path | None) -> None:
    """``kimera audit prove ORDER_ID``: a proof that the order was compliant, written to a JSON file."""
    settings = get_settings()
    risk = load_config(settings=settings).execution.risk
    url = _journal(path)
    try:
        day = order_day(url, client_order_id)
        statement = commit_day(url, day, settings.home_dir, _signing_key())
        document = prove(statement, load_openings(settings.home_dir, statement.day), client_order_id,
                         risk.max_order_notional, risk.price_band_bps)  # fmt: skip
    except ProofError as exc:
        print(f"no proof: {exc}", file=sys.stderr)
        sys.exit(1)
    out = out or zk_dir(settings.home_dir) / f"proof-{client_order_id}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=1))
    claims = document["claims"]
    print(f"proof for order {client_order_id} in the root of {statement.day}: notional <= {claims['notional_limit']}, "
          f"price within {claims['band_bps']} bps of {claims['reference_price']}; written to {out}")  # fmt: skip


def verify_proof_cli(
    file: Path, verification_key: Path | None, public_key: Path | None, snarkjs: bool
) -> None:
    """``kimera audit verify-proof FILE``: exit 0 when the proof verifies (Python and snarkjs), else 1."""
    vk_file = verification_key or BUILD / "verification_key.json"
    for needed in (file, vk_file):
        if not Path(needed).is_file():
            raise ConfigError(f"no file at {needed}")
    try:
        document = json.loads(Path(file).read_text())
        public = pq.load_public(public_key) if public_key else None
    except (ValueError, pq.KeyFormatError) as exc:
        raise ConfigError(f"{file}: {exc}") from None
    try:
        check = verify_proof(document, json.loads(vk_file.read_text()), public, with_snarkjs=snarkjs)
    except ProofError as exc:
        raise ConfigError(str(exc)) from None
    signed = (
        "root signature checked" if public is not None else "root signature NOT checked (no --public-key)"
    )
    if not check.ok:
        print(f"proof REFUSED: {check.problem}")
        sys.exit(1)
    runs = "py-ecc" + (" and snarkjs" if check.snarkjs else "")
    print(f"proof OK ({runs}; {signed}): order {document['order_id']} is in the root of "
          f"{document['root_statement']['day']}, notional <= {document['claims']['notional_limit']}, price within "
          f"{document['claims']['band_bps']} bps of {document['claims']['reference_price']}")  # fmt: skip
