"""Zero-knowledge proofs that an order was compliant, without revealing its size or price.

Each UTC day's orders are committed: for every child order first audited that day, the leaf
``Poseidon(order_key, quantity, price, salt)`` (quantity and limit price in 1e-8 units, a random
salt) goes into a Poseidon Merkle tree of depth 12 (4,096 orders). The day's root is published in
``KIMERA_HOME/audit/zk/<day>.root.json``, signed with the audit checkpoint key (ML-DSA-65); the
openings (sizes, prices, salts) stay private in ``<day>.openings.json`` (mode 600).

For one order, the Circom circuit ``zk/circuits/compliant_order.circom`` proves (Groth16): its
commitment is in the published root, ``quantity x price <= notional_limit`` (the account's
``max_order_notional``), and the price is within ``band_bps`` of the public reference price (its
parent's). An order that breaks a rule has no witness, so no proof can be made for it.
``verify_proof`` checks a proof with the verification key, the signed root and the checkpoint
public key only: in Python (py-ecc, :mod:`execution.zk.groth16`) and with snarkjs.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import subprocess
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from execution.audit import entries
from execution.zk import groth16
from kimera import pq

ZK_DIR = Path(__file__).resolve().parents[2] / "zk"
BUILD = ZK_DIR / "build"
DEPTH = 12  # as in zk/circuits/compliant_order.circom: 4,096 orders a day
BN254_R = 21888242871839275222246405745257275088548364400416034343698204186575808495617
UNIT = Decimal(10) ** 8  # quantities and prices in 1e-8 units
NOTIONAL_UNIT = UNIT * UNIT
ROOT_CONTEXT = b"kimera-order-root-v1"
PROOF_FORMAT = "kimera-order-proof-v1"
DAY_MS = 86_400_000


class ProofError(Exception):
    """No proof could be made or checked; the message says why (never an order's size or price)."""


@dataclass(frozen=True)
class Opening:
    """What one leaf commits to (private)."""

    client_order_id: str
    order_key: str
    quantity: str
    price: str
    salt: str
    reference_price: str  # the parent's, in 1e-8 units (public at proving time)

    def leaf(self) -> list[str]:
        return [self.order_key, self.quantity, self.price, self.salt]


@dataclass(frozen=True)
class RootStatement:
    """The published, signed root of one day's order commitments."""

    day: str
    root: str
    orders: int
    depth: int
    key: str
    signature: str

    def message(self) -> bytes:
        return f"kimera-order-root\n{self.day}\n{self.root}\n{self.orders}\n{self.depth}".encode()

    def valid(self, public: pq.MLDSA65PublicKey) -> bool:
        return pq.verify(public, self.signature, self.message(), ROOT_CONTEXT)


def order_key(client_order_id: str) -> str:
    """The public field element naming an order: SHA-256 of its id, reduced into BN254's scalar field."""
    return str(int.from_bytes(hashlib.sha256(client_order_id.encode()).digest(), "big") % BN254_R)


def _units(value: str | None, unit: Decimal, what: str) -> str:
    if value is None:
        raise ProofError(f"{what} is missing")
    scaled = Decimal(value) * unit
    if scaled != scaled.to_integral_value() or scaled < 0:
        raise ProofError(f"{what} is not a whole number of 1e-8 units")
    return str(int(scaled))


def _day_of(at_ms: int) -> str:
    return datetime.fromtimestamp(at_ms / 1000, UTC).date().isoformat()


def orders_of_day(url: str, day: date) -> list[Opening]:
    """Every child order first audited on ``day`` with a limit price, with a fresh salt each."""
    parents: dict[str, dict[str, Any]] = {}
    firsts: dict[str, tuple[int, dict[str, Any]]] = {}
    for e in entries(url, kinds=("parent", "order")):
        if e.kind == "parent":
            parents.setdefault(e.ref, e.content())
        elif e.ref not in firsts:
            firsts[e.ref] = (e.at_ms, e.content())
    found = []
    for cid, (at_ms, record) in sorted(firsts.items(), key=lambda kv: kv[1][0]):
        if _day_of(at_ms) != day.isoformat() or record.get("limit_price") is None:
            continue
        reference = (parents.get(record.get("parent_id")) or {}).get("reference_price") or record[
            "limit_price"
        ]
        found.append(Opening(cid, order_key(cid), _units(record["amount"], UNIT, f"order {cid}'s amount"),
                             _units(record["limit_price"], UNIT, f"order {cid}'s limit price"),
                             str(secrets.randbelow(BN254_R)), str(int((Decimal(reference) * UNIT).to_integral_value()))))  # fmt: skip
    return found


# --- node: circomlibjs Poseidon and snarkjs ------------------------------------------------------
def _node(request: dict[str, Any], timeout_s: float = 600) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None or not (ZK_DIR / "node_modules" / "snarkjs").is_dir():
        raise ProofError("node and zk/node_modules are needed: run `make setup` (npm ci in zk/)")
    done = subprocess.run([node, str(ZK_DIR / "prover.js")], input=json.dumps(request), capture_output=True,
                          text=True, timeout=timeout_s, cwd=ZK_DIR)  # fmt: skip
    if done.returncode != 0:
        raise ProofError(
            done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "the zk helper failed"
        )
    return json.loads(done.stdout)


def _artefacts() -> tuple[Path, Path, Path]:
    wasm, zkey, vk = (
        BUILD / "compliant_order.wasm",
        BUILD / "compliant_order.zkey",
        BUILD / "verification_key.json",
    )
    if not (BUILD / ".done").exists():
        raise ProofError("the circuit's keys are not built: run `make setup` (zk/setup.sh)")
    return wasm, zkey, vk


# --- committing a day ------------------------------------------------------------------------------
def zk_dir(home_dir: Path) -> Path:
    return home_dir / "audit" / "zk"


def commit_day(url: str, day: date, home_dir: Path, signing_key: pq.MLDSA65PrivateKey) -> RootStatement:
    """The day's signed root, made once (its openings kept private); later calls return the same root."""
    folder = zk_dir(home_dir)
    root_file, openings_file = folder / f"{day}.root.json", folder / f"{day}.openings.json"
    if root_file.is_file():
        return RootStatement(**json.loads(root_file.read_text()))
    openings = orders_of_day(url, day)
    if not openings:
        raise ProofError(f"no orders with a limit price were audited on {day}")
    tree = _node({"op": "tree", "depth": DEPTH, "leaves": [o.leaf() for o in openings]})
    unsigned = RootStatement(day.isoformat(), tree["root"], len(openings), DEPTH, pq.fingerprint(signing_key.public_key()), "")  # fmt: skip
    statement = RootStatement(
        **{**asdict(unsigned), "signature": pq.sign(signing_key, unsigned.message(), ROOT_CONTEXT)}
    )
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(openings_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump([asdict(o) for o in openings], handle)
    root_file.write_text(json.dumps(asdict(statement), indent=1))  # published last: it names a complete tree
    return statement


def load_openings(home_dir: Path, day: str) -> list[Opening]:
    return [Opening(**o) for o in json.loads((zk_dir(home_dir) / f"{day}.openings.json").read_text())]


def order_day(url: str, client_order_id: str) -> date:
    for e in entries(url, ref=client_order_id, kinds=("order",)):
        return date.fromisoformat(_day_of(e.at_ms))
    raise ProofError(f"no order {client_order_id!r} in the audit log")


# --- proving and verifying -------------------------------------------------------------------------
def prove(
    statement: RootStatement, openings: list[Opening], client_order_id: str, notional_limit: float, band_bps: float,
    opening_override: Opening | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The proof file's content for one order of ``statement``'s day (raises ProofError if none can exist).

    ``opening_override`` replaces the order's opening (what a cheat would try: other terms than committed).
    """
    wasm, zkey, _ = _artefacts()
    index = next((i for i, o in enumerate(openings) if o.client_order_id == client_order_id), None)
    if index is None:
        raise ProofError(f"order {client_order_id!r} is not in the root of {statement.day}")
    leaves = [o.leaf() for o in openings]
    opening = opening_override or openings[index]
    leaves_for_witness = list(leaves)
    leaves_for_witness[index] = opening.leaf()
    public = {"notionalLimit": str(int(Decimal(str(notional_limit)) * NOTIONAL_UNIT)),
              "referencePrice": opening.reference_price, "bandBps": str(int(band_bps))}  # fmt: skip
    # the witness must reach the published root: other terms than the committed ones cannot
    request = {"op": "prove", "depth": DEPTH, "leaves": leaves_for_witness, "index": index, "public": public,
               "wasm": str(wasm), "zkey": str(zkey), "root": statement.root}  # fmt: skip
    try:
        made = _node(request)
    except ProofError as exc:
        raise ProofError(
            f"no proof for order {client_order_id!r}: it breaks the circuit's rules ({exc})"
        ) from None
    return {
        "format": PROOF_FORMAT,
        "order_id": client_order_id,
        "claims": {
            "root": statement.root,
            "order_key": order_key(client_order_id),
            "notional_limit": str(Decimal(str(notional_limit))),
            "reference_price": str(Decimal(opening.reference_price) / UNIT),
            "band_bps": int(band_bps),
        },  # fmt: skip
        "root_statement": asdict(statement),
        "public_signals": made["publicSignals"],
        "proof": made["proof"],
    }


@dataclass
class ProofCheck:
    python: bool = False
    snarkjs: bool | None = None  # None: not run
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None and self.python and self.snarkjs is not False


def expected_signals(claims: dict[str, Any]) -> list[str]:
    """The public signals a proof must carry for what its file claims, in the circuit's order."""
    return [str(claims["root"]), str(claims["order_key"]),
            str(int(Decimal(claims["notional_limit"]) * NOTIONAL_UNIT)),
            str(int((Decimal(claims["reference_price"]) * UNIT).to_integral_value())), str(int(claims["band_bps"]))]  # fmt: skip


def verify_proof(
    document: dict[str, Any],
    vk: dict[str, Any],
    public: pq.MLDSA65PublicKey | None,
    with_snarkjs: bool = True,
) -> ProofCheck:
    """Check a proof file with the verification key and, given the checkpoint public key, its signed root."""
    check = ProofCheck()
    if document.get("format") != PROOF_FORMAT:
        check.problem = f"not a {PROOF_FORMAT} file"
        return check
    claims, statement = document["claims"], RootStatement(**document["root_statement"])
    if claims["order_key"] != order_key(document["order_id"]):
        check.problem = "the proof names another order than its file says"
    elif claims["root"] != statement.root:
        check.problem = "the proof's root is not the day's published root"
    elif public is not None and not statement.valid(public):
        check.problem = f"the root of {statement.day} is not signed by this checkpoint key"
    elif document["public_signals"] != expected_signals(claims):
        check.problem = "the proof's public signals differ from what its file claims"
    if check.problem:
        return check
    try:
        check.python = groth16.verify(vk, document["public_signals"], document["proof"])
    except (groth16.BadProof, KeyError) as exc:
        check.problem = f"malformed proof: {exc}"
        return check
    if with_snarkjs:
        check.snarkjs = bool(_node({"op": "verify", "vk": vk, "proof": document["proof"],
                                    "publicSignals": document["public_signals"]})["ok"])  # fmt: skip
    if not check.python or check.snarkjs is False:
        check.problem = "the proof does not verify"
    return check
