"""A reorg made with eth-tester snapshot/revert: the next ingest finds the fork and leaves no orphan row."""

from __future__ import annotations

from pathlib import Path

import duckdb
from web3 import Web3

from pipelines.sources import make_sources
from pipelines.sources.reorg import heal_reorg, sync_window
from tests.pipelines.sources.conftest import ChainWorld

ONE = 10**18
TABLES = ("chain_blocks", "token_transfers", "dex_swaps", "dex_pool_reserves", "block_coverage")


def _ingest(con, config, start, end):
    sources = make_sources(config)
    return [sync_window(con, source, start, end, lookback=64) for source in (sources.chain, sources.dex)]


def _stored_blocks(con, table: str) -> set[tuple[int, str]]:
    return set(con.execute(f"SELECT DISTINCT block_number, block_hash FROM raw.{table}").fetchall())


def _tx_hashes(con) -> list[str]:
    return [r[0] for r in con.execute("SELECT tx_hash FROM raw.token_transfers").fetchall()]


def test_a_reorg_is_healed_with_no_orphan_rows(chain_world: ChainWorld, tmp_path: Path) -> None:
    evm, uni = chain_world.evm, chain_world.uni
    t0, t1 = uni.tokens[chain_world.token0], uni.tokens[chain_world.token1]
    trader, wallet = chain_world.trader, chain_world.exchange_wallet
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    config = chain_world.config(confirmations=0)

    first = evm.head + 1
    evm.send(t0.functions.transfer(trader, 40 * ONE))
    uni.swap_exact_in(t0, t1, 2 * ONE, trader)
    snapshot = evm.tester.take_snapshot()
    fork = evm.head + 1
    replayed = evm.send(t1.functions.transfer(wallet, 5), sender=trader)
    doomed = [
        evm.send(t0.functions.transfer(wallet, 7 * ONE), sender=trader),
        uni.swap_exact_in(t0, t1, 3 * ONE, trader),
    ]
    last = evm.head
    _ingest(con, config, *chain_world.window(first, last))
    doomed_hashes = {Web3.to_hex(r.transactionHash) for r in doomed}
    assert doomed_hashes <= set(_tx_hashes(con))

    # the chain reorganises from `fork`: other transactions take those heights, one is replayed later
    evm.tester.revert_to_snapshot(snapshot)
    evm.send(t1.functions.transfer(evm.accounts[7], 11 * ONE))
    again = evm.send(t1.functions.transfer(wallet, 5), sender=trader)
    evm.send(uni.weth.functions.deposit(), sender=trader, value=ONE)
    assert again.transactionHash == replayed.transactionHash  # same transaction, different block
    evm.mine(4)

    (chain_result, chain_healed), (dex_result, dex_healed) = _ingest(config=config, con=con,
        start=chain_world.window(last + 1, evm.head)[0], end=chain_world.window(last + 1, evm.head)[1])  # fmt: skip
    assert chain_healed is not None and chain_healed.fork == fork
    assert dex_healed is not None and dex_healed.fork == fork

    canonical = {(n, Web3.to_hex(evm.w3.eth.get_block(n)["hash"])) for n in range(0, evm.head + 1)}
    for table in TABLES:
        assert _stored_blocks(con, table) <= canonical, f"orphan rows left in raw.{table}"
    hashes = _tx_hashes(con)
    assert not doomed_hashes & set(hashes)
    assert hashes.count(Web3.to_hex(replayed.transactionHash)) == 1
    stored_blocks = [
        r[0] for r in con.execute("SELECT block_number FROM raw.chain_blocks ORDER BY 1").fetchall()
    ]
    assert stored_blocks == list(range(first, evm.head + 1))
    # what is stored equals a fresh read of the chain now
    fresh = make_sources(config).chain.rows_between("token_transfers", first, evm.head)
    stored = con.sql("SELECT * FROM raw.token_transfers").to_arrow_table()
    key = ("block_number", "log_index")
    assert sorted(
        stored.select(list(fresh.column_names)).to_pylist(), key=lambda r: [r[k] for k in key]
    ) == sorted(fresh.to_pylist(), key=lambda r: [r[k] for k in key])
    swaps = con.execute("SELECT count(*) FROM raw.dex_swaps").fetchone()[0]
    assert swaps == 1  # the reorged-away swap is gone; the first one stays


def test_no_reorg_means_nothing_is_rewritten(chain_world: ChainWorld, tmp_path: Path) -> None:
    evm = chain_world.evm
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    config = chain_world.config(confirmations=0)
    first = evm.head + 1
    evm.mine(3)
    _ingest(con, config, *chain_world.window(first, evm.head))
    assert heal_reorg(con, make_sources(config).chain, lookback=64) is None
