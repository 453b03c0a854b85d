"""The simulated chain: a consistent block chain, EIP-1559 fees, and transfers a node would return."""

from __future__ import annotations

from decimal import Decimal

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from marketsim import MarketSimulator
from tests.marketsim.conftest import START


def test_blocks_form_one_chain_every_slot(three_days) -> None:
    blocks = three_days["chain_blocks"].sort_by("block_number")
    number = blocks.column("block_number").to_numpy()
    ts = blocks.column("ts").cast(pa.int64()).to_numpy()
    hashes = blocks.column("block_hash").to_pylist()
    parents = blocks.column("parent_hash").to_pylist()
    assert len(number) == 3 * 7200  # one block every 12 s
    assert np.all(np.diff(number) == 1) and np.all(np.diff(ts) == 12_000_000)
    assert parents[1:] == hashes[:-1]  # each block names its predecessor, across midnights too
    assert len(set(hashes)) == len(hashes)
    assert all(h.startswith("0x") and len(h) == 66 and h == h.lower() for h in hashes[:100])
    assert set(blocks.column("chain").to_pylist()) == {"ethereum"}


def test_the_first_block_sits_at_the_epoch(sim: MarketSimulator) -> None:
    first = sim.generate(START, START.replace(minute=1), tables=["chain_blocks"])["chain_blocks"]
    assert first.column("block_number")[0].as_py() == sim.spec.first_block
    assert first.column("ts")[0].as_py() == START


def test_gas_and_base_fee_follow_eip_1559(three_days) -> None:
    b = three_days["chain_blocks"].sort_by("block_number")
    gas = b.column("gas_used").to_numpy()
    limit = b.column("gas_limit").to_numpy()
    fee = b.column("base_fee_gwei").to_numpy()
    assert np.all((gas >= 0) & (gas <= limit))
    assert np.all(fee > 0) and 3 < np.median(fee) < 60
    target = limit[:-1] / 2
    predicted = fee[:-1] * (1 + (gas[:-1] - target) / target / 8)
    np.testing.assert_allclose(fee[1:], predicted, rtol=1e-6)
    tx = b.column("tx_count").to_numpy()
    active = b.column("active_addresses").to_numpy()
    assert np.all(tx > 0) and np.all(active <= 2 * tx) and np.all(active >= tx)


def test_blocks_hold_at_least_the_transactions_we_see_in_them(three_days) -> None:
    logs = pa.concat_tables(
        [
            three_days["token_transfers"].select(["block_number", "tx_hash"]),
            three_days["dex_swaps"].select(["block_number", "tx_hash"]),
        ]
    )
    seen = logs.group_by("block_number").aggregate([("tx_hash", "count_distinct")])
    joined = seen.join(
        three_days["chain_blocks"].select(["block_number", "tx_count", "block_hash"]), "block_number"
    )
    assert joined.num_rows == seen.num_rows
    assert np.all(joined.column("tx_hash_count_distinct").to_numpy() <= joined.column("tx_count").to_numpy())


def test_transfers_have_exact_raw_amounts_and_consistent_keys(sim: MarketSimulator, three_days) -> None:
    t = three_days["token_transfers"]
    decimals = {r["token"]: r["decimals"] for r in sim.reference_tables()["tokens"].to_pylist()}
    addresses = {r["token"]: r["token_address"] for r in sim.reference_tables()["tokens"].to_pylist()}
    rows = t.to_pylist()
    keys = {(r["block_number"], r["log_index"]) for r in rows}
    assert len(keys) == len(rows)
    for r in rows[:: max(1, len(rows) // 3000)]:
        exact = Decimal(r["amount_raw"]) / Decimal(10) ** decimals[r["token"]]
        assert float(exact) == r["amount"], r
        assert r["token_address"] == addresses[r["token"]]
        assert len(r["from_address"]) == len(r["to_address"]) == 42 and r["from_address"] != r["to_address"]
    # every transfer sits in a real block of the blocks table (same hash, same time)
    joined = t.select(["block_number", "block_hash", "ts"]).join(
        three_days["chain_blocks"].select(["block_number", "block_hash", "ts"]),
        "block_number",
        right_suffix="_b",
    )
    assert joined.num_rows == t.num_rows
    assert pc.all(pc.equal(joined["block_hash"], joined["block_hash_b"])).as_py()
    assert pc.all(pc.equal(joined["ts"], joined["ts_b"])).as_py()


def test_exchange_flows_whales_and_background_are_all_there(sim: MarketSimulator, three_days) -> None:
    con = duckdb.connect()
    con.register("transfers", three_days["token_transfers"])
    con.register("labels", sim.reference_tables()["wallet_labels"])
    con.register("tokens", sim.reference_tables()["tokens"])
    kinds = dict(
        con.execute(
            """
            select t.token || ':' || case
                     when t.to_address in (select address from labels) and t.from_address in (select address from labels) then 'internal'
                     when t.to_address in (select address from labels) then 'inflow'
                     when t.from_address in (select address from labels) then 'outflow'
                     else 'other' end,
                   count(*)
            from transfers t group by 1
            """
        ).fetchall()
    )
    for token in ("WETH", "WBTC", "USDC"):
        for kind in ("inflow", "outflow", "internal", "other"):
            assert kinds.get(f"{token}:{kind}", 0) > 10, (token, kind, kinds)
    whales = dict(
        con.execute(
            "select t.token, count(*) from transfers t join tokens k using (token) "
            "where t.amount >= k.whale_threshold group by 1"
        ).fetchall()
    )
    assert set(whales) == {"WETH", "WBTC", "USDC"}, whales


def test_swap_transactions_log_like_uniswap_v2(three_days) -> None:
    con = duckdb.connect()
    for name in ("token_transfers", "dex_swaps", "dex_pool_reserves"):
        con.register(name, three_days[name])
    # per swap: Transfer(in) at i-3, Transfer(out) at i-2, Sync at i-1, Swap at i, all in one transaction
    mismatched = con.execute(
        """
        select count(*) from dex_swaps s
        left join token_transfers tin on tin.block_number = s.block_number and tin.log_index = s.log_index - 3
        left join token_transfers tout on tout.block_number = s.block_number and tout.log_index = s.log_index - 2
        left join dex_pool_reserves r on r.block_number = s.block_number and r.log_index = s.log_index - 1
        where tin.tx_hash is distinct from s.tx_hash or tout.tx_hash is distinct from s.tx_hash
           or tin.to_address <> s.pool or tout.from_address <> s.pool or r.pool is distinct from s.pool
           or abs(tin.amount - greatest(s.amount0, s.amount1)) > 1e-9 * abs(tin.amount)
           or abs(tout.amount + least(s.amount0, s.amount1)) > 1e-9 * abs(tout.amount)
        """
    ).fetchone()[0]
    assert mismatched == 0
    assert con.execute("select count(*) from dex_swaps").fetchone()[0] > 1000
