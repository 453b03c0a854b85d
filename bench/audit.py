"""What the audit trail and request signing cost.

1. Journal intake with every order change also appended to the hash chain (the service's journal),
   against the plain journal on the same disk in the same run (peer): the chain's price in throughput.
2. Verifying one signed request (key lookup, timestamp window, HMAC-SHA256 in constant time, nonce
   bookkeeping) against computing one HMAC-SHA256 of the same canonical request (ceiling).
3. ``kimera audit verify`` speed: entries checked per second (sha256 of each) against hashing the
   same bytes with no database read (ceiling).
"""

from __future__ import annotations

import asyncio
import hashlib
import tempfile
import time
from pathlib import Path

from pydantic import SecretStr

from bench import Measure
from bench.journal import _orders
from execution import orders as sm
from execution.audit import AuditedJournal, entries, verify
from execution.auth import ApiKeys, Verifier
from execution.journal import Journal
from execution.orders import OrderState
from kimera.signing import canonical_request, sign_request, signature


async def _intake(journal: Journal, n: int, writers: int) -> float:
    journal.open()
    queue = iter(_orders(n))

    async def writer() -> None:
        for order in queue:
            event = sm.transition(order, OrderState.SUBMITTED)
            await journal.write(journal.order_change(order, [event]))

    t0 = time.perf_counter()
    await asyncio.gather(*(writer() for _ in range(writers)))
    elapsed = time.perf_counter() - t0
    journal.close()
    return n / elapsed


def _verify_rate(n: int) -> tuple[float, float]:
    secret = "bench-secret-0123456789abcdef"
    verifier = Verifier(ApiKeys({"bench": SecretStr(secret)}), window_s=30)
    body = b'{"signal_id": "s", "asset": "BTC", "forecast": 0.004}'
    signed = [
        {k.lower(): v for k, v in sign_request("POST", "/signals", body, "bench", secret).items()}
        for _ in range(n)
    ]
    t0 = time.perf_counter()
    for headers in signed:
        verifier.verify("POST", "/signals", headers, body)
    verified = n / (time.perf_counter() - t0)
    h = signed[0]
    t0 = time.perf_counter()
    for _ in range(n):
        signature(
            secret, canonical_request(h["x-kimera-timestamp"], h["x-kimera-nonce"], "POST", "/signals", body)
        )
    return verified, n / (time.perf_counter() - t0)


def run(quick: bool = False) -> list[Measure]:
    n = 2_000 if quick else 10_000
    with tempfile.TemporaryDirectory() as tmp:
        plain = asyncio.run(_intake(Journal(f"sqlite:///{Path(tmp) / 'plain.sqlite'}"), n, writers=256))
        url = f"sqlite:///{Path(tmp) / 'audited.sqlite'}"
        audited = asyncio.run(_intake(AuditedJournal(url), n, writers=256))
        t0 = time.perf_counter()
        result = verify(url)
        verify_rate = result.entries / (time.perf_counter() - t0)
        texts = [(e.seq, e.at_ms, e.kind, e.ref or "", e.prev, e.record) for e in entries(url)]
    t0 = time.perf_counter()
    for seq, at, kind, ref, prev, record in texts:
        hashlib.sha256("\n".join((str(seq), str(at), kind, ref, prev, record)).encode()).hexdigest()
    hash_rate = len(texts) / (time.perf_counter() - t0)
    checked, hmac_rate = _verify_rate(n * 2)
    return [
        Measure(
            "journal intake with the audit chain (256 writers)", audited, "orders/s", "the same journal without it",
            plain, audited / plain, ">= 5000 orders/s and ratio >= 0.5", bool(audited >= 5000 and audited / plain >= 0.5),
        ),
        Measure(
            "signed request verification", checked, "requests/s", "one HMAC-SHA256 of the canonical request",
            hmac_rate, checked / hmac_rate, ">= 50000 requests/s (< 20 us each)", bool(checked >= 50_000),
        ),
        Measure(
            f"kimera audit verify ({result.entries} entries, ok={result.ok})", verify_rate, "entries/s",
            "sha256 of the same entries, in memory", hash_rate, verify_rate / hash_rate, ">= 20000 entries/s",
            bool(verify_rate >= 20_000 and result.ok),
        ),
    ]  # fmt: skip
