"""Aave V3 deployed for real (two reserves): supply, borrow, repay and a liquidation triggered by moving
the price oracle; the lending source reads every event and reserve state as the chain has them, and
dbt turns the landed rows into lending features."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import duckdb
import pytest
from web3 import Web3

from kimera.schema import LENDING_EVENTS, LENDING_RESERVES, conform
from pipelines.sources.lending import RpcLendingSource
from pipelines.sources.rows import EPOCH
from tests.pipelines.sources.conftest import FAST_RETRY
from tests.support.config import config_with

USDC, WETH = 10**6, 10**18


@pytest.fixture(scope="module")
def aave_chain() -> Iterator[dict[str, Any]]:
    from marketsim.local_evm import Evm
    from marketsim.rpc_server import JsonRpcServer
    from tests.support.aave import deploy_aave_v3

    evm = Evm()
    aave = deploy_aave_v3(evm)
    with JsonRpcServer(evm.w3) as rpc:
        yield {"evm": evm, "aave": aave, "rpc": rpc}


@pytest.fixture(scope="module")
def history(aave_chain) -> dict[str, Any]:
    """Supply, borrow, repay; then the oracle drops WETH from 2000 to 1100 USD and the loan is liquidated."""
    evm, aave = aave_chain["evm"], aave_chain["aave"]
    pool, usdc, weth = aave.pool, aave.tokens["USDC"], aave.tokens["WETH"]
    s, b, q = evm.accounts[1:4]
    aave.fund("USDC", s, 1_000_000 * USDC)
    aave.fund("WETH", b, 10 * WETH)
    aave.fund("USDC", q, 100_000 * USDC)
    aave.fund("USDC", b, 0)
    first = evm.head + 1
    evm.send(pool.functions.supply(usdc.address, 1_000_000 * USDC, s, 0), sender=s)
    evm.send(pool.functions.supply(weth.address, 10 * WETH, b, 0), sender=b)
    borrowed = evm.send(pool.functions.borrow(usdc.address, 15_000 * USDC, 2, 0, b), sender=b)
    evm.send(pool.functions.repay(usdc.address, 5_000 * USDC, 2, b), sender=b)
    healthy = pool.functions.getUserAccountData(b).call()[5]
    aave.set_price("WETH", 1100)
    unhealthy = pool.functions.getUserAccountData(b).call()[5]
    seized_before = weth.functions.balanceOf(q).call()
    liquidation = evm.send(
        pool.functions.liquidationCall(weth.address, usdc.address, b, 5_000 * USDC, False), sender=q
    )
    tokens = [{"symbol": "USDC", "address": usdc.address, "decimals": 6, "asset": "USD", "whale_threshold": 10_000},
              {"symbol": "WETH", "address": weth.address, "asset": "ETH"}]  # fmt: skip
    config = config_with(
        chain={"source": "rpc", "name": "testchain", "rpc_url": aave_chain["rpc"].url, "confirmations": 0,
               "tokens": tokens, "retry": FAST_RETRY,
               "exchange_wallets": [{"address": b, "label": "fund_x", "category": "fund"}]},
        lending={"source": "rpc", "markets": [{"address": pool.address, "protocol": "aave_v3"}]},
    )  # fmt: skip
    window = (
        EPOCH + timedelta(seconds=evm.block_time(first)),
        EPOCH + timedelta(seconds=evm.block_time() + 1),
    )
    return {"config": config, "window": window, "borrowed": borrowed, "liquidation": liquidation,
            "seized": weth.functions.balanceOf(q).call() - seized_before, "health": (healthy, unhealthy)}  # fmt: skip


def test_supply_borrow_repay_and_a_liquidation_land_as_the_chain_has_them(
    aave_chain, history, kimera_home
) -> None:
    evm, aave = aave_chain["evm"], aave_chain["aave"]
    pool, usdc, weth = aave.pool, aave.tokens["USDC"], aave.tokens["WETH"]
    supplier, borrower, liquidator = (a.lower() for a in evm.accounts[1:4])
    assert (
        history["health"][0] > 10**18 > history["health"][1]
    )  # the oracle's move made the loan liquidatable
    source = RpcLendingSource(history["config"])
    events = conform(LENDING_EVENTS, source.events(*history["window"])).to_pylist()
    states = conform(LENDING_RESERVES, source.reserves(*history["window"])).to_pylist()

    got = [(e["event"], e["reserve"], e["user"], e["caller"], e["amount"]) for e in events]
    u, w = usdc.address.lower(), weth.address.lower()
    assert got == [
        ("supply", u, supplier, supplier, 1_000_000.0),
        ("supply", w, borrower, borrower, 10.0),
        ("borrow", u, borrower, borrower, 15_000.0),
        ("repay", u, borrower, borrower, 5_000.0),
        ("liquidation", u, borrower, liquidator, 5_000.0),
    ]
    liquidated = events[-1]
    assert (
        liquidated["collateral_reserve"] == w and liquidated["collateral_amount"] == history["seized"] / WETH
    )
    assert liquidated["tx_hash"] == Web3.to_hex(history["liquidation"].transactionHash)
    rate = pool.functions.getReserveData(usdc.address).call(block_identifier=history["borrowed"].blockNumber)[
        4
    ]
    assert events[2]["borrow_rate"] == rate / 10**27 > 0
    last_usdc = [r for r in states if r["reserve"] == u][-1]
    data = pool.functions.getReserveData(usdc.address).call()
    assert (
        last_usdc["variable_borrow_rate"] == data[4] / 10**27 and last_usdc["supply_rate"] == data[2] / 10**27
    )
    debt = evm.w3.eth.contract(address=data[10], abi=usdc.abi)
    assert last_usdc["total_borrowed"] == pytest.approx(debt.functions.totalSupply().call() / USDC, rel=1e-12)
    assert 0 < last_usdc["total_borrowed"] / last_usdc["total_supplied"] < 0.02  # utilisation: ~10k of ~1M


@pytest.mark.slow  # a dbt build
def test_lending_features_from_the_landed_rows(aave_chain, history, tmp_path, kimera_home) -> None:
    """Ingest (the lending feeds, as the Dagster assets call them), then dbt: marts.lending."""
    from pipelines.features.dbt_cli import run_dbt
    from pipelines.features.project import dbt_vars
    from pipelines.ingest.chains import ingest_each_chain, ingest_reference_each_chain
    from pipelines.ingest.feeds import FEEDS, REFERENCE_FEEDS
    from pipelines.sources import make_sources
    from pipelines.warehouse import ensure_raw_schema

    config, home = history["config"], tmp_path / "home"
    home.mkdir()
    sources = make_sources(config)
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        ensure_raw_schema(con)
        for table in ("lending_events", "lending_reserves"):
            assert ingest_each_chain(con, FEEDS[table], sources, *history["window"]).rows_written > 0
        for table in ("tokens", "wallet_labels"):
            ingest_reference_each_chain(con, REFERENCE_FEEDS[table], config, sources)
    run_dbt(["build", "--select", "+lending"], home=home, dbt_vars=dbt_vars(config))
    usdc = aave_chain["aave"].tokens["USDC"].address.lower()
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        usd = con.execute(
            "select sum(borrow_volume), sum(liquidation_volume), sum(liquidations), sum(labelled_large_borrow_volume),"
            " max_by(utilisation, bar_time) from marts.lending where asset = 'USD'"
        ).fetchone()
        last = con.execute(
            "select total_borrowed / total_supplied from raw.lending_reserves where reserve = ?"
            " order by block_number desc, log_index desc limit 1",
            [usdc],
        ).fetchone()[0]
    assert usd[:4] == (
        15_000.0,
        5_000.0,
        1,
        15_000.0,
    )  # the borrower is a labelled wallet; 15k >= its 10k threshold
    assert usd[4] == pytest.approx(last, rel=1e-12)
