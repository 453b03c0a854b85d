"""Two local chains with different chain ids at once (``chains:``): each chain's blocks, transfers and
swaps land in the same raw tables keyed by chain, each read with its own RPC and confirmations."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import duckdb
import pytest
from web3 import Web3

from connect.evm import scaled
from kimera.config import ConfigError
from marketsim.local_evm import get_amount_out
from pipelines.ingest.chains import ingest_each_chain, ingest_reference_each_chain, per_chain
from pipelines.ingest.feeds import FEEDS, REFERENCE_FEEDS
from pipelines.sources import make_sources
from pipelines.sources.rows import EPOCH
from tests.pipelines.sources.conftest import FAST_RETRY
from tests.support.config import config_with

ONE = 10**18


@dataclass
class Chain:
    name: str
    chain_id: int
    evm: Any
    uni: Any
    pair: Any
    rpc: Any

    def section(self, **extra: Any) -> dict[str, Any]:
        assets = {"TKA": "ETH", "TKB": "USD"}  # TKB prices TKA in the DEX features
        tokens = [{"symbol": n, "address": c.address, "decimals": 18, "whale_threshold": 1000, "asset": assets[n]}
                  for n, c in self.uni.tokens.items()]  # fmt: skip
        return {"source": "rpc", "name": self.name, "chain_id": self.chain_id, "rpc_url": self.rpc.url,
                "confirmations": 0, "tokens": tokens, "retry": FAST_RETRY, **extra}  # fmt: skip

    def pool(self) -> dict[str, Any]:
        first = self.pair.functions.token0().call() == self.uni.tokens["TKA"].address
        t0, t1 = ("TKA", "TKB") if first else ("TKB", "TKA")
        return {
            "address": self.pair.address,
            "dex": "uniswap_v2",
            "token0": t0,
            "token1": t1,
            "chain": self.name,
        }


@pytest.fixture(scope="module")
def two_chains() -> Iterator[list[Chain]]:
    from marketsim.local_evm import Evm, deploy_uniswap_v2
    from marketsim.rpc_server import JsonRpcServer

    chains = []
    for name, chain_id, price in (("ethereum", None, 2), ("bsc", 56, 3)):
        evm = Evm(chain_id=chain_id)
        uni = deploy_uniswap_v2(evm)
        pair = uni.create_pair(uni.tokens["TKA"], uni.tokens["TKB"], 10**24, price * 10**24)
        chains.append(Chain(name, evm.w3.eth.chain_id, evm, uni, pair, JsonRpcServer(evm.w3).start()))
    try:
        yield chains
    finally:
        for chain in chains:
            chain.rpc.stop()


def _config(chains: list[Chain], **per_chain: Any):
    return config_with(
        chain=None,
        chains=[c.section(**per_chain.get(c.name, {})) for c in chains],
        dex={"source": "rpc", "pools": [c.pool() for c in chains]},
    )


def _window(chains: list[Chain], extra_blocks: dict[str, int] | None = None):
    """A window from the first genesis to a block mined on every chain at one common second (chains'
    clocks differ by their start-up); ``extra_blocks`` are mined after it, outside the window."""
    common = max(c.evm.tester.get_block_by_number("pending")["timestamp"] for c in chains)
    for chain in chains:
        chain.evm.tester.time_travel(common)
        chain.evm.mine(1 + (extra_blocks or {}).get(chain.name, 0))
    start = min(c.evm.block_time(0) for c in chains)
    return EPOCH + timedelta(seconds=start), EPOCH + timedelta(seconds=common + 1)


def test_each_chains_swaps_and_blocks_land_in_the_same_tables_keyed_by_chain(
    two_chains: list[Chain], kimera_home, tmp_path
) -> None:
    trader_swaps = {}
    for chain in two_chains:
        evm, uni = chain.evm, chain.uni
        a, b = uni.tokens["TKA"], uni.tokens["TKB"]
        trader = evm.accounts[1]
        evm.send(a.functions.transfer(trader, 10 * ONE))
        ra, rb = (chain.pair.functions.getReserves().call()[:2] if chain.pool()["token0"] == "TKA"
                  else chain.pair.functions.getReserves().call()[1::-1])  # fmt: skip
        receipt = uni.swap_exact_in(a, b, 2 * ONE, trader)
        trader_swaps[chain.name] = (Web3.to_hex(receipt.transactionHash), get_amount_out(2 * ONE, ra, rb))
    config = _config(two_chains)
    sources = make_sources(config)
    window = _window(two_chains)
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        for table in ("chain_blocks", "token_transfers", "dex_swaps"):
            report = ingest_each_chain(con, FEEDS[table], sources, *window)
            assert report.scope["chain"] == ["ethereum", "bsc"]
        for table in ("dex_pools", "tokens"):
            ingest_reference_each_chain(con, REFERENCE_FEEDS[table], config, sources)
        blocks = dict(
            con.execute("SELECT chain, max(block_number) FROM raw.chain_blocks GROUP BY chain").fetchall()
        )
        swaps = con.execute(
            "SELECT chain, tx_hash, amount0, amount1 FROM raw.dex_swaps ORDER BY chain"
        ).fetchall()
        pools = con.execute("SELECT chain, pool FROM raw.dex_pools ORDER BY chain").fetchall()
        transfers = con.execute(
            "SELECT chain, count(*) FROM raw.token_transfers WHERE amount = 10 GROUP BY chain ORDER BY chain"
        ).fetchall()
    assert blocks == {c.name: c.evm.head for c in two_chains}
    assert pools == [
        ("bsc", two_chains[1].pair.address.lower()),
        ("ethereum", two_chains[0].pair.address.lower()),
    ]
    assert transfers == [("bsc", 1), ("ethereum", 1)]
    assert len(swaps) == 2
    for chain_name, tx_hash, amount0, amount1 in swaps:
        chain = next(c for c in two_chains if c.name == chain_name)
        expected_tx, out = trader_swaps[chain_name]
        assert tx_hash == expected_tx
        a_in, b_out = (amount0, amount1) if chain.pool()["token0"] == "TKA" else (amount1, amount0)
        assert (a_in, b_out) == (scaled(2 * ONE, 18), scaled(-out, 18))


def test_one_chains_confirmations_hold_back_only_its_own_blocks(two_chains: list[Chain], tmp_path) -> None:
    config = _config(two_chains, bsc={"confirmations": 3})
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        window = _window(two_chains, extra_blocks={"bsc": 3})
        ingest_each_chain(con, FEEDS["chain_blocks"], make_sources(config), *window)
        blocks = dict(
            con.execute("SELECT chain, max(block_number) FROM raw.chain_blocks GROUP BY chain").fetchall()
        )
    assert blocks == {"ethereum": two_chains[0].evm.head, "bsc": two_chains[1].evm.head - 3}


def test_rewriting_one_chain_keeps_the_others_rows(two_chains: list[Chain], tmp_path) -> None:
    config = _config(two_chains)
    window = _window(two_chains)
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        ingest_each_chain(con, FEEDS["chain_blocks"], make_sources(config), *window)
        only_bsc = per_chain(make_sources(config))[1]
        ingest_each_chain(con, FEEDS["chain_blocks"], only_bsc, *window)
        counts = dict(con.execute("SELECT chain, count(*) FROM raw.chain_blocks GROUP BY chain").fetchall())
    assert counts == {c.name: c.evm.head + 1 for c in two_chains}


def test_an_rpc_url_serving_another_chain_is_refused_naming_both_ids(
    two_chains: list[Chain], tmp_path
) -> None:
    config = _config(
        two_chains, bsc={"rpc_url": two_chains[0].rpc.url}
    )  # bsc's entry points at ethereum's node
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con, pytest.raises(ConfigError) as err:
        ingest_each_chain(con, FEEDS["chain_blocks"], make_sources(config), *_window(two_chains))
    assert f"reports chain id {two_chains[0].chain_id}" in str(err.value) and "chain_id = 56" in str(
        err.value
    )


def test_chains_config_errors_name_the_problem() -> None:
    with pytest.raises(ConfigError, match="names must be unique"):
        config_with(chain=None, chains=[{"name": "bsc"}, {"name": "bsc"}])
    with pytest.raises(ConfigError, match="names chain .polygon."):
        config_with(chain=None, chains=[{"name": "bsc"}],
                    dex={"pools": [{"address": "0x" + "1" * 40, "token0": "A", "token1": "B", "chain": "polygon"}]})  # fmt: skip
    with pytest.raises(ConfigError, match="not both"):
        config_with(chain={"name": "ethereum"}, chains=[{"name": "bsc"}])


@pytest.mark.slow  # a dbt build
def test_the_cross_chain_basis_is_the_gap_between_the_chains_last_prices(
    two_chains, kimera_home, tmp_path
) -> None:
    from pipelines.features.dbt_cli import run_dbt
    from pipelines.features.project import dbt_vars
    from pipelines.warehouse import ensure_raw_schema

    for chain in two_chains:  # a swap on each chain, so both price ETH in the same bar
        uni = chain.uni
        chain.evm.send(uni.tokens["TKA"].functions.transfer(chain.evm.accounts[2], ONE))
        uni.swap_exact_in(uni.tokens["TKA"], uni.tokens["TKB"], ONE // 2, chain.evm.accounts[2])
    config = _config(two_chains)
    sources = make_sources(config)
    window = _window(two_chains)
    home = tmp_path / "home"
    home.mkdir()
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        ensure_raw_schema(con)
        ingest_each_chain(con, FEEDS["dex_swaps"], sources, *window)
        for table in ("dex_pools", "tokens"):
            ingest_reference_each_chain(con, REFERENCE_FEEDS[table], config, sources)
    run_dbt(["build", "--select", "+cross_chain_basis"], home=home, dbt_vars=dbt_vars(config))
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        basis = con.execute(
            "select bar_time, basis_bps from marts.cross_chain_basis"
            " where asset = 'ETH' and chain = 'ethereum' and other_chain = 'bsc' order by bar_time desc limit 1"
        ).fetchone()
        last = dict(con.execute(
            "select chain, max_by(price, block_number * 1000000 + log_index) from raw.dex_swaps"
            " where ts < ? group by chain", [basis[0]]
        ).fetchall())  # fmt: skip
    assert basis[1] == pytest.approx(math.log(last["bsc"] / last["ethereum"]) * 1e4, rel=1e-9)
    assert basis[1] > 3000  # TKB per TKA: about 3 on bsc against 2 on ethereum
