"""The simulator-backed sources: rows with exactly the raw tables' contract, from one world."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

import marketsim
from connect.sim import simulator_from_config, spec_from_config
from kimera.config import ConfigError, load_config, parse_config
from kimera.schema import PARTITIONED_TABLES, RAW_TABLES
from pipelines.sources import make_sources
from pipelines.sources.base import ChainSource, DexSource, ExchangeSource
from pipelines.sources.sim import SimChainSource, SimDexSource, SimExchangeSource

REPO_CONFIG = Path(__file__).resolve().parents[3] / "kimera.yaml"


@pytest.fixture(scope="module")
def config():
    return load_config(REPO_CONFIG)


@pytest.mark.parametrize("name", sorted(n for n, t in RAW_TABLES.items() if t.simulated))
def test_marketsim_schema_equals_the_raw_table_contract(name: str) -> None:
    # marketsim may not import kimera, so it declares its own schemas: they must never drift apart
    ours, contract = marketsim.SCHEMAS[name], RAW_TABLES[name].schema
    assert ours.names == contract.names
    assert ours.equals(contract, check_metadata=False), f"{name}: {ours} != {contract}"
    assert set(marketsim.PARTITIONED) == {t.name for t in PARTITIONED_TABLES if t.simulated}
    if name in marketsim.PARTITIONED:
        assert marketsim.PARTITIONED[name][1] == RAW_TABLES[name].time_column


def test_make_sources_picks_the_simulator_by_default(config) -> None:
    sources = make_sources(config)
    assert isinstance(sources.exchange, SimExchangeSource) and isinstance(sources.exchange, ExchangeSource)
    assert isinstance(sources.chain, SimChainSource) and isinstance(sources.chain, ChainSource)
    assert isinstance(sources.dex, SimDexSource) and isinstance(sources.dex, DexSource)
    assert sources.exchange.venues() == ["alpha", "bravo", "charlie"]
    assert sources.chain.chain() == "ethereum"
    # one world per config: the three sources share one simulator
    assert sources.exchange.simulator is sources.chain.simulator is sources.dex.simulator


def test_every_source_method_returns_contract_rows_inside_the_window(config) -> None:
    sources = make_sources(config)
    start = config.start_time + timedelta(days=2, hours=5)
    end = start + timedelta(hours=1)
    produced = {
        "exchange_ohlcv": sources.exchange.ohlcv(start, end),
        "exchange_trades": sources.exchange.trades(start, end),
        "order_book_snapshots": sources.exchange.order_books(start, end),
        "chain_blocks": sources.chain.blocks(start, end),
        "token_transfers": sources.chain.transfers(start, end),
        "dex_swaps": sources.dex.swaps(start, end),
        "dex_pool_reserves": sources.dex.reserves(start, end),
    }
    for name, rows in produced.items():
        table = RAW_TABLES[name]
        assert rows.schema.equals(table.schema, check_metadata=True), name
        assert rows.num_rows > 0, f"{name}: no rows in a busy hour"
        times = rows.column(table.time_column).cast(pa.int64()).to_numpy()
        lo = pa.scalar(start, type=pa.timestamp("us")).cast(pa.int64()).as_py()
        hi = pa.scalar(end, type=pa.timestamp("us")).cast(pa.int64()).as_py()
        assert lo <= times.min() and times.max() < hi, name
    assert set(produced["exchange_ohlcv"].column("venue").to_pylist()) == {"alpha", "bravo", "charlie"}
    pools = sources.dex.pools()
    assert pools.schema.equals(RAW_TABLES["dex_pools"].schema, check_metadata=True)
    primary = config.chain_views()[0]  # the config's sources read its first chain
    assert sorted(pools.column("pool").to_pylist()) == sorted(p.address.lower() for p in primary.dex.pools)


def test_reference_tables_follow_the_config(config) -> None:
    refs = simulator_from_config(config).reference_tables()
    for name, rows in refs.items():
        assert rows.schema.equals(RAW_TABLES[name].schema, check_metadata=False), name
    tokens = refs["tokens"].to_pylist()
    assert {t["token"]: t["decimals"] for t in tokens} == {"WETH": 18, "WBTC": 8, "USDC": 6}
    labels = refs["wallet_labels"].column("address").to_pylist()
    assert labels == [w.address.lower() for w in config.chain.exchange_wallets]


def test_a_window_before_the_configured_start_is_refused_clearly(config) -> None:
    source = make_sources(config).exchange
    with pytest.raises(ValueError, match=r"before the simulation's start 2026-01-01"):
        source.ohlcv(datetime(2025, 12, 31, 23), datetime(2026, 1, 1, 1))


def test_an_asset_without_simulation_parameters_names_the_key(config) -> None:
    data = config.model_dump(mode="json")
    data["assets"].append({"symbol": "SOL", "quote": "USDT"})
    with pytest.raises(ConfigError, match=r"sim.assets has no entry for 'SOL'"):
        spec_from_config(parse_config(data))


def test_a_start_before_the_simulated_chains_first_block_says_what_to_set(config) -> None:
    # a user with daily candles since 2017 sets start: 2017-01-01 and keeps the shipped sim section
    data = config.model_dump(mode="json")
    data["start"] = "2017-01-01"
    with pytest.raises(
        ConfigError, match=r"start = 2017-01-01 is before .* sim.first_block to at least (\d+)"
    ) as err:
        spec_from_config(parse_config(data))
    needed = int(err.value.args[0].split("at least ")[1].split(",")[0])
    data["sim"] = {**data["sim"], "first_block": needed}
    assert spec_from_config(parse_config(data)).first_block == 1  # the advice is exact: block 1 at start


def test_rows_are_unique_on_each_tables_natural_key(config) -> None:
    import duckdb

    tables = simulator_from_config(config).generate(config.start_time, config.start_time + timedelta(days=1))
    for name, rows in tables.items():
        con = duckdb.connect()
        con.register("rows_", rows)
        key = ", ".join(RAW_TABLES[name].key)
        dupes = con.sql(f"select count(*) - count(distinct ({key})) from rows_").fetchall()[0][0]
        assert dupes == 0, f"{name}: {dupes} duplicate keys on ({key})"
        con.close()


def test_an_asset_token_missing_from_the_chain_names_the_key(config) -> None:
    data = config.model_dump(mode="json")
    data["assets"][0]["token"] = "XBTC"
    with pytest.raises(ConfigError, match=r"assets\[BTC\].token = 'XBTC'.*chain.tokens"):
        spec_from_config(parse_config(data))
