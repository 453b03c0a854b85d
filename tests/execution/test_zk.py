"""Zero-knowledge proofs of compliant orders: a valid order proves and verifies (py-ecc and snarkjs); a
tampered order, a breached limit or an order not in the root cannot produce a verifying proof."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from execution import orders as sm
from execution.audit import AuditedJournal
from execution.orders import TimeInForce
from execution.slicing import ParentOrder
from execution.venues.base import Side
from execution.zk import groth16
from execution.zk.orders import (
    BUILD,
    ProofError,
    commit_day,
    load_openings,
    order_key,
    orders_of_day,
    prove,
    verify_proof,
)
from kimera import pq
from kimera.app.cli import main
from tests.execution.test_checkpoints import StepClock

# zk/build (the circuit's wasm and keys) is made once by `make setup` (zk/setup.sh); without it the
# tests fail with a ProofError that says so.
DAY = dt.date(2026, 12, 7)
DAY_MS = int(dt.datetime(2026, 12, 7, tzinfo=dt.UTC).timestamp() * 1000)
# (client order id, amount, limit price); the parent's reference price is 60,000 and the band 50 bps
ORDERS = [("ok-1", "0.05", "60010.5"), ("ok-2", "0.2", "59950"), ("big-3", "0.5", "60100")]


def parent(pid: str) -> ParentOrder:
    return ParentOrder(**{"parent_id": pid, "signal_id": f"s-{pid}", "asset": "BTC", "side": "buy", "quantity": Decimal("1"),
            "target": None, "reference_price": Decimal("60000"), "created_at": 0.0, "slice_mode": None,
            "slices": [Decimal("1")], "next_slice": 0, "next_slice_at": None, "status": "done",
            "model_tag": "t", "prediction_id": "p"})  # fmt: skip


@pytest.fixture(scope="module")
def day_journal(tmp_path_factory) -> Path:
    """A journal whose audit log holds one parent and three child orders on DAY (an hour apart)."""
    path = tmp_path_factory.mktemp("zk") / "journal.sqlite"
    journal = AuditedJournal(f"sqlite:///{path}", clock_ms=StepClock(DAY_MS, 3_600_000))
    journal.open()

    async def write() -> None:
        await journal.write([journal.parent(parent("P1"))])
        for cid, amount, price in ORDERS:
            order, event = sm.create(client_order_id=cid, parent_id="P1", intent_key=f"P1:{cid}", venue="alpha",
                                     symbol="BTC/USDT", asset="BTC", side=Side.BUY, amount=Decimal(amount),
                                     limit_price=Decimal(price), time_in_force=TimeInForce.IOC)  # fmt: skip
            await journal.write(journal.order_change(order, [event]))

    asyncio.run(write())
    journal.close()
    return path


@pytest.fixture(scope="module")
def checkpoint_key() -> pq.MLDSA65PrivateKey:
    return pq.private_key(pq.new_private_text())


@pytest.fixture(scope="module")
def committed(day_journal, checkpoint_key, tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    statement = commit_day(f"sqlite:///{day_journal}", DAY, home, checkpoint_key)
    return statement, load_openings(home, statement.day), home


@pytest.fixture(scope="module")
def valid_proof(committed) -> dict:
    statement, openings, _ = committed
    return prove(statement, openings, "ok-2", 25_000.0, 50.0)


@pytest.fixture(scope="module")
def vk() -> dict:
    return json.loads((BUILD / "verification_key.json").read_text())


def test_the_days_orders_are_committed_and_the_root_is_signed_and_kept(
    committed, day_journal, checkpoint_key
):
    statement, openings, home = committed
    assert [o.client_order_id for o in openings] == ["ok-1", "ok-2", "big-3"]
    assert (
        openings[1].quantity == "20000000" and openings[1].price == "5995000000000"
    )  # 0.2 and 59,950 in 1e-8
    assert statement.orders == 3 and statement.valid(checkpoint_key.public_key())
    published = (home / "audit" / "zk" / f"{DAY}.root.json").read_text()
    assert "59950" not in published and "5995000000000" not in published  # the root reveals no price
    again = commit_day(f"sqlite:///{day_journal}", DAY, home, checkpoint_key)
    assert again.root == statement.root  # published once: fresh salts would make another root
    assert orders_of_day(f"sqlite:///{day_journal}", DAY + dt.timedelta(days=1)) == []


@pytest.mark.slow
def test_a_compliant_order_proves_and_verifies_in_python_and_with_snarkjs(valid_proof, vk, checkpoint_key):
    check = verify_proof(valid_proof, vk, checkpoint_key.public_key())
    assert check.ok and check.python and check.snarkjs
    text = json.dumps(valid_proof)
    assert "59950" not in text and "5995000000000" not in text and "20000000" not in text  # no size, no price
    assert valid_proof["claims"]["notional_limit"] == "25000.0" and valid_proof["claims"]["band_bps"] == 50


@pytest.mark.slow
def test_a_forged_proof_fails_verification(valid_proof, vk, checkpoint_key):
    public = checkpoint_key.public_key()
    lower_limit = copy.deepcopy(valid_proof)  # claim a tighter limit than was proven
    lower_limit["claims"]["notional_limit"] = "1000"
    lower_limit["public_signals"][2] = str(1000 * 10**16)
    assert verify_proof(lower_limit, vk, public, with_snarkjs=True).problem == "the proof does not verify"
    assert groth16.verify(vk, lower_limit["public_signals"], lower_limit["proof"]) is False
    other_order = copy.deepcopy(valid_proof)  # the same proof presented for another order
    other_order["order_id"], other_order["claims"]["order_key"] = "ok-1", order_key("ok-1")
    other_order["public_signals"][1] = order_key("ok-1")
    assert verify_proof(other_order, vk, public, with_snarkjs=False).problem == "the proof does not verify"
    bent = copy.deepcopy(valid_proof)  # a point of the proof moved
    bent["proof"]["pi_c"] = valid_proof["proof"]["pi_a"]
    assert not verify_proof(bent, vk, public, with_snarkjs=False).ok
    foreign = pq.private_key(pq.new_private_text()).public_key()  # a root signed by another key
    assert "not signed by this checkpoint key" in verify_proof(valid_proof, vk, foreign).problem


def test_a_tampered_order_a_breached_limit_or_an_order_not_in_the_root_cannot_be_proven(committed):
    statement, openings, _ = committed
    smaller = dataclasses.replace(openings[2], quantity="1000000")  # claim big-3 was 0.01 BTC
    with pytest.raises(ProofError, match="breaks the circuit's rules"):
        prove(statement, openings, "big-3", 25_000.0, 50.0, opening_override=smaller)
    with pytest.raises(ProofError, match="breaks the circuit's rules"):  # 0.5 x 60,100 = 30,050 > 25,000
        prove(statement, openings, "big-3", 25_000.0, 50.0)
    with pytest.raises(
        ProofError, match="breaks the circuit's rules"
    ):  # 60,010.5 is 1.75 bps off: not within 1
        prove(statement, openings, "ok-1", 25_000.0, 1.0)
    with pytest.raises(ProofError, match="not in the root"):
        prove(statement, openings, "never-traded", 25_000.0, 50.0)


@pytest.mark.slow
def test_kimera_audit_prove_and_verify_proof(day_journal, kimera_home, tmp_path, monkeypatch):
    from kimera.settings import get_settings

    secret = pq.new_private_text()
    monkeypatch.setenv("KIMERA_SECRET_AUDIT_CHECKPOINT_KEY", secret)
    get_settings.cache_clear()
    public = tmp_path / "checkpoint.pub"
    public.write_bytes(pq.public_pem(pq.private_key(secret)))
    runner = CliRunner()
    out = tmp_path / "proof.json"
    proved = runner.invoke(main, ["audit", "prove", "ok-1", "--path", str(day_journal), "--out", str(out)])
    assert proved.exit_code == 0, proved.output
    assert f"in the root of {DAY}" in proved.output
    verified = runner.invoke(main, ["audit", "verify-proof", str(out), "--public-key", str(public)])
    assert verified.exit_code == 0, verified.output
    assert "proof OK (py-ecc and snarkjs; root signature checked)" in verified.output
    refused = runner.invoke(main, ["audit", "prove", "big-3", "--path", str(day_journal)])
    assert refused.exit_code == 1 and "breaks the circuit's rules" in refused.output
