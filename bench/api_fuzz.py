"""Attacks tried in earnest: schemathesis against the running execution service, every request
validly signed (so the fuzzing reaches the handlers, not just the signature check).

* per operation, 1,000 generated valid and 1,000 malformed requests (``--quick``: 50), after a few
  real signals so reads, traces and reports have data; server errors counted (goal: none);
* stateful sequences that follow the OpenAPI links (a signal to its orders, their trace and cancel,
  an order back to its signal): 200 sequences of up to 10 calls (``--quick``: 20);
* the fuzzing's request rate beside a peer measured in the same run on the same signed session:
  one fixed signed ``GET /killswitch`` after another (no generation, no checks), so the ratio is
  what generating and checking cost on top of the transport and the signature.

The CI test (tests/execution/test_auth_fuzz.py) runs the same harness with a dozen examples.
"""

from __future__ import annotations

import time

from bench import Measure


def _peer_rate(url: str, session, seconds: float = 5.0) -> float:
    calls, began = 0, time.perf_counter()
    while time.perf_counter() - began < seconds:
        session.get(f"{url}/killswitch", timeout=15).raise_for_status()
        calls += 1
    return calls / (time.perf_counter() - began)


def run(quick: bool = False) -> list[Measure]:
    from bench._api_fuzz_harness import (
        fuzz_operations,
        fuzz_stateful,
        running_service,
        signed_session,
        trade_a_little,
    )

    examples, sequences, steps = (50, 20, 6) if quick else (1000, 200, 10)
    with running_service() as url:
        session = signed_session()
        trade_a_little(url, session)
        per_operation = fuzz_operations(url, session, examples)
        stateful = fuzz_stateful(url, session, sequences, steps)
        peer = _peer_rate(url, session)
    operations = len(per_operation.statuses)
    fewest = per_operation.fewest_with_input()
    with_input = operations - len(per_operation.no_input)
    rate = per_operation.calls / per_operation.seconds
    stateful_rate = stateful.stateful_steps / stateful.seconds
    peer_text = "signed GET /killswitch repeated, same session (no generation, no checks)"
    return [
        Measure(f"schemathesis: {examples} valid + {examples} malformed per operation, {operations} operations, "
                f"all signed ({per_operation.calls:,} requests; {with_input} take input, the least fuzzed got {fewest}): "
                "server errors "
                "and rule breaks", len(per_operation.problems), "answers", "none allowed", 0.0, None,
                "0 (no 5xx; no 401 to a signed request)", not per_operation.problems),
        Measure("schemathesis: per-operation fuzzing, requests/s (generate, sign, send, check)", rate, "requests/s",
                peer_text, peer, rate / peer, "reported", True),
        Measure(f"schemathesis: stateful, {sequences} sequences of up to {steps} linked calls "
                f"({stateful.stateful_steps:,} calls): server errors and rule breaks", len(stateful.problems),
                "answers", "none allowed", 0.0, None, "0", not stateful.problems),
        Measure("schemathesis: stateful sequences, calls/s", stateful_rate, "calls/s", peer_text, peer,
                stateful_rate / peer, "reported", True),
    ]  # fmt: skip
