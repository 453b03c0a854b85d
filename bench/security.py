"""What post-quantum signatures, persisted nonces and zero-knowledge proofs cost.

1. Verifying one ML-DSA-65-signed request (the whole Verifier: headers, window, signature, nonce)
   against verifying one HMAC-SHA256-signed request through the same Verifier (peer).
2. The same HMAC verification with nonces written to disk (SQLite WAL, what `kimera execute` does
   so that a restart cannot replay) against nonces in memory only (peer).
3. Signing one audit checkpoint (ML-DSA-65) against hashing one audit entry (the chain's own cost).
4. Proving one order compliant (Groth16, snarkjs, ~3,900-constraint circuit) against verifying that
   proof with snarkjs (peer); the proof's size against an ML-DSA-65 signature's; verifying it in
   Python (py-ecc) against snarkjs. Skipped (a row says so) when the circuit's keys are not built.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
from pathlib import Path

from pydantic import SecretStr

from bench import Measure
from execution.auth import ApiKeys, Verifier
from execution.nonces import NonceStore
from kimera import pq
from kimera.signing import sign_request

BODY = b'{"signal_id": "s", "asset": "BTC", "forecast": 0.004}'
HMAC_SECRET = "bench-secret-0123456789abcdef"


def _rate(verifier: Verifier, key_id: str, secret: str, n: int) -> float:
    signed = [
        {k.lower(): v for k, v in sign_request("POST", "/signals", BODY, key_id, secret).items()}
        for _ in range(n)
    ]
    t0 = time.perf_counter()
    for headers in signed:
        verifier.verify("POST", "/signals", headers, BODY)
    return n / (time.perf_counter() - t0)


def _signatures(n: int) -> list[Measure]:
    private = pq.new_private_text()
    keys = ApiKeys({"hmac": SecretStr(HMAC_SECRET)}, {"pq": pq.private_key(private).public_key()})
    ml_dsa = _rate(Verifier(keys), "pq", private, n)
    hmac_rate = _rate(Verifier(keys), "hmac", HMAC_SECRET, n)
    with tempfile.TemporaryDirectory() as tmp:
        on_disk = _rate(
            Verifier(keys, nonces=NonceStore(Path(tmp) / "nonces.sqlite")), "hmac", HMAC_SECRET, n
        )
    key = pq.private_key(private)
    t0 = time.perf_counter()
    for i in range(n // 10):
        pq.sign(key, f"kimera-audit-checkpoint\n{i}\n{'0' * 64}\n0\nevery".encode(), pq.CHECKPOINT_CONTEXT)
    signing = (n // 10) / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for i in range(n):
        hashlib.sha256(f"{i}\n0\norder\nref\n{'0' * 64}\n{BODY.decode()}".encode()).hexdigest()
    hashing = n / (time.perf_counter() - t0)
    return [
        Measure("ML-DSA-65 signed request verification", ml_dsa, "requests/s", "HMAC-SHA256 signed, same Verifier",
                hmac_rate, ml_dsa / hmac_rate, ">= 2000 requests/s (< 0.5 ms each)", bool(ml_dsa >= 2000)),
        Measure("HMAC request verification, nonces on disk", on_disk, "requests/s", "nonces in memory only",
                hmac_rate, on_disk / hmac_rate, ">= 5000 requests/s", bool(on_disk >= 5000)),
        Measure("audit checkpoint signing (ML-DSA-65)", signing, "checkpoints/s", "sha256 of one audit entry",
                hashing, signing / hashing, ">= 200 checkpoints/s (one per 1000 entries by default)", bool(signing >= 200)),
    ]  # fmt: skip


def _proofs() -> list[Measure]:
    from execution.zk import groth16
    from execution.zk.orders import (
        BUILD,
        DEPTH,
        ROOT_CONTEXT,
        Opening,
        RootStatement,
        _node,
        order_key,
        prove,
    )

    if not (BUILD / ".done").exists():
        return [Measure("Groth16 proof of a compliant order", float("nan"), "s", "not run: zk/build missing (make setup)",
                        None, None, "zk/build present", False)]  # fmt: skip
    openings = [Opening(f"o{i}", order_key(f"o{i}"), str(10_000_000 + i), str(6_000_000_000_000), str(1000 + i),
                        str(6_000_000_000_000)) for i in range(64)]  # fmt: skip
    root = _node({"op": "tree", "depth": DEPTH, "leaves": [o.leaf() for o in openings]})["root"]
    key = pq.private_key(pq.new_private_text())
    unsigned = RootStatement("2026-01-01", root, len(openings), DEPTH, pq.fingerprint(key.public_key()), "")
    statement = RootStatement(
        **{**unsigned.__dict__, "signature": pq.sign(key, unsigned.message(), ROOT_CONTEXT)}
    )
    t0 = time.perf_counter()
    document = prove(statement, openings, "o7", 25_000.0, 50.0)
    proving = time.perf_counter() - t0
    vk = json.loads((BUILD / "verification_key.json").read_text())
    t0 = time.perf_counter()
    ok_js = _node({"op": "verify", "vk": vk, "proof": document["proof"], "publicSignals": document["public_signals"]})["ok"]  # fmt: skip
    js_verify = time.perf_counter() - t0
    t0 = time.perf_counter()
    ok_py = groth16.verify(vk, document["public_signals"], document["proof"])
    py_verify = time.perf_counter() - t0
    size = len(json.dumps(document["proof"], separators=(",", ":")))
    return [
        Measure("Groth16 proof of a compliant order (snarkjs, incl. node start)", proving, "s",
                "snarkjs verify of it (incl. node start)", js_verify, proving / js_verify, "<= 30 s per proof", bool(proving <= 30)),
        Measure("proof size (snarkjs JSON)", size, "bytes", "one ML-DSA-65 signature (raw)", pq.SIGNATURE_BYTES,
                size / pq.SIGNATURE_BYTES, "<= 1 kB", bool(size <= 1024)),
        Measure(f"proof verification in Python, py-ecc (ok={ok_py})", py_verify, "s", f"snarkjs (ok={ok_js})",
                js_verify, py_verify / js_verify, "<= 10 s and both accept", bool(py_verify <= 10 and ok_py and ok_js)),
    ]  # fmt: skip


def run(quick: bool = False) -> list[Measure]:
    return [*_signatures(1_000 if quick else 5_000), *_proofs()]
