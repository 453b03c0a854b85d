"""Compound V3 (Comet) events decoded from Comet's published ABI: a stand-in contract emitting Comet's
exact events (Comet's bytecode is not on npm) over real ERC-20 tokens; the lending source reads
them over JSON-RPC into raw.lending_events, and every amount matches what moved on the chain."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from web3 import Web3

from kimera.schema import LENDING_EVENTS, LENDING_RESERVES, conform
from pipelines.sources.compound_v3 import comet_abi, comet_events
from pipelines.sources.lending import RpcLendingSource
from pipelines.sources.rows import EPOCH
from tests.pipelines.sources.conftest import FAST_RETRY
from tests.support.config import config_with

USDC, WETH = 10**6, 10**18
MAX = 2**256 - 1


def _events(abi: list[dict]) -> dict[str, list[tuple]]:
    return {e["name"]: [(i["name"], i["type"], i["indexed"]) for i in e["inputs"]]
            for e in abi if e.get("type") == "event"}  # fmt: skip


@pytest.fixture(scope="module")
def comet_chain() -> Iterator[dict[str, Any]]:
    from marketsim.local_evm import Evm
    from marketsim.rpc_server import JsonRpcServer
    from tests.support.aave import deploy
    from tests.support.compound import deploy_comet_events

    evm = Evm()
    usdc = deploy(evm, "MintableERC20", "USD Coin", "USDC", 6)
    weth = deploy(evm, "MintableERC20", "Wrapped Ether", "WETH", 18)
    comet = deploy_comet_events(evm, usdc.address)
    with JsonRpcServer(evm.w3) as rpc:
        yield {"evm": evm, "usdc": usdc, "weth": weth, "comet": comet, "rpc": rpc}


@pytest.fixture(scope="module")
def history(comet_chain) -> dict[str, Any]:
    """Supply; collateral in; a borrow; a repay; a supply that repays the rest first; a withdrawal
    that borrows past the balance; then an absorb (Comet's liquidation)."""
    evm, usdc, weth, comet = (comet_chain[k] for k in ("evm", "usdc", "weth", "comet"))
    s, b, a = evm.accounts[1:4]
    for who, token, amount in ((s, usdc, 1_000_000 * USDC), (b, weth, 10 * WETH), (b, usdc, 20_000 * USDC)):
        evm.send(token.functions.mint(who, amount), sender=who)
        evm.send(token.functions.approve(comet.address, MAX), sender=who)
    held = usdc.functions.balanceOf(comet.address).call()
    first = evm.head + 1
    c = comet.functions
    receipts = [
        evm.send(c.supply(s, 1_000_000 * USDC, 1_000_000 * USDC), sender=s),  # all supplied
        evm.send(c.supplyCollateral(weth.address, 10 * WETH), sender=b),
        evm.send(c.withdraw(b, 15_000 * USDC, 0), sender=b),  # all borrowed
        evm.send(c.supply(b, 5_000 * USDC, 0), sender=b),  # all repays
        evm.send(c.supply(b, 12_345_678_901, 2_345_678_901), sender=b),  # 10k repays, the rest supplied
        evm.send(c.withdraw(b, 3_000_000_001, 2_345_678_900), sender=b),  # the balance, then a borrow
        evm.send(c.absorb(b, weth.address, 10 * WETH, 654_321_000, 1_300 * 10**8), sender=a),
    ]
    config = config_with(
        chain={"source": "rpc", "name": "testchain", "rpc_url": comet_chain["rpc"].url, "confirmations": 0,
               "retry": FAST_RETRY, "exchange_wallets": [{"address": b, "label": "fund_x", "category": "fund"}],
               "tokens": [{"symbol": "USDC", "address": usdc.address, "decimals": 6, "asset": "USD",
                           "whale_threshold": 10_000},
                          {"symbol": "WETH", "address": weth.address, "asset": "ETH"}]},
        lending={"source": "rpc", "markets": [{"address": comet.address, "protocol": "compound_v3"}]},
    )  # fmt: skip
    window = (
        EPOCH + timedelta(seconds=evm.block_time(first)),
        EPOCH + timedelta(seconds=evm.block_time() + 1),
    )
    moved = usdc.functions.balanceOf(comet.address).call() - held
    return {"config": config, "window": window, "receipts": receipts, "users": (s, b, a), "moved": moved}


def test_the_stand_in_emits_comets_published_events_exactly(comet_chain) -> None:
    from tests.support.compound import comet_events_build

    built, published = _events(comet_events_build()["abi"]), _events(comet_abi())
    assert set(built) == {"Supply", "Transfer", "Withdraw", "SupplyCollateral", "WithdrawCollateral",
                          "AbsorbDebt", "AbsorbCollateral"}  # fmt: skip
    assert all(built[name] == published[name] for name in built)
    receipt_topics = {
        Web3.to_hex(log["topics"][0]).lower()
        for log in comet_chain["evm"].w3.eth.get_logs(
            {"address": comet_chain["comet"].address, "fromBlock": 0}
        )
    }
    assert receipt_topics <= {e["topic"] for e in comet_events().values()}


def test_comet_supply_borrow_repay_and_absorb_land_as_the_chain_has_them(
    comet_chain, history, kimera_home
) -> None:
    usdc, weth = comet_chain["usdc"].address.lower(), comet_chain["weth"].address.lower()
    s, b, a = (x.lower() for x in history["users"])
    events = conform(
        LENDING_EVENTS, RpcLendingSource(history["config"]).events(*history["window"])
    ).to_pylist()

    got = [(e["event"], e["reserve"], e["user"], e["caller"], e["amount"]) for e in events]
    assert got == [
        ("supply", usdc, s, s, 1_000_000.0),
        ("supply", weth, b, b, 10.0),
        ("borrow", usdc, b, b, 15_000.0),
        ("repay", usdc, b, b, 5_000.0),
        ("repay", usdc, b, b, 10_000.0),
        ("supply", usdc, b, b, 2_345.678901),
        ("borrow", usdc, b, b, 654.321101),
        ("withdraw", usdc, b, b, 2_345.6789),
        ("collateral_absorbed", weth, b, a, 10.0),
        ("liquidation", usdc, b, a, 654.321),
    ]
    assert {e["protocol"] for e in events} == {"compound_v3"}
    assert all(e["collateral_reserve"] is None and e["borrow_rate"] is None for e in events)
    # the base token that came into the market is what the rows say: supplies and repays less withdrawals
    # and borrows (to the base unit)
    signed = {"supply": 1, "repay": 1, "withdraw": -1, "borrow": -1}
    net = sum(signed[e["event"]] * round(e["amount"] * USDC) for e in events if e["reserve"] == usdc
              and e["event"] in signed)  # fmt: skip
    assert net == history["moved"]
    # each row sits on the log it came from: a split's supply part on Comet's Transfer, its repay on Supply
    receipts = history["receipts"]
    split = [e for e in events if e["tx_hash"] == Web3.to_hex(receipts[4].transactionHash)]
    assert [(e["event"], e["log_index"]) for e in split] == [
        ("repay", receipts[4].logs[-2].logIndex),
        ("supply", receipts[4].logs[-1].logIndex),
    ]
    assert len({(e["block_number"], e["log_index"]) for e in events}) == len(events)


def test_comet_market_state_after_each_block_that_moved_the_base_asset(
    comet_chain, history, kimera_home
) -> None:
    """Utilisation and rates from Comet's view functions (the stand-in's plain rate line, not
    Comet's curve), read at each block whose logs moved the base asset."""
    comet, usdc = comet_chain["comet"], comet_chain["usdc"].address.lower()
    states = conform(
        LENDING_RESERVES, RpcLendingSource(history["config"]).reserves(*history["window"])
    ).to_pylist()

    base_moves = [r for i, r in enumerate(history["receipts"]) if i != 1]  # not the collateral supply
    assert [s["block_number"] for s in states] == [r.blockNumber for r in base_moves]
    assert [s["log_index"] for s in states] == [r.logs[-1].logIndex for r in base_moves]
    assert {(s["protocol"], s["reserve"]) for s in states} == {("compound_v3", usdc)}
    for s in states:
        f, at = comet.functions, {"block_identifier": s["block_number"]}
        u = f.getUtilization().call(**at)
        assert s["total_supplied"] == f.totalSupply().call(**at) / USDC
        assert s["total_borrowed"] == f.totalBorrow().call(**at) / USDC
        assert s["variable_borrow_rate"] == f.getBorrowRate(u).call(**at) * 31_536_000 / 10**18
        assert s["supply_rate"] == f.getSupplyRate(u).call(**at) * 31_536_000 / 10**18
        assert s["liquidity_index"] == s["variable_borrow_index"] == 1.0
    # 1,002,345.678901 supplied, then 2,345.6789 withdrawn; 15,000 + 654.321101 borrowed, 15,000 repaid,
    # 654.321 absorbed
    last = states[-1]
    assert (last["total_supplied"], last["total_borrowed"]) == (1_000_000.000001, 0.000101)
    assert states[2]["total_borrowed"] == 10_000.0 and 0.02 < states[2]["variable_borrow_rate"] < 0.03


def test_comet_rows_land_through_the_ingest_and_pass_the_raw_quality_suite(history, tmp_path) -> None:
    """The lending feeds as the Dagster assets call them, into DuckDB; GX's quality suite passes."""
    import duckdb

    from pipelines.features.expectations import validate_raw
    from pipelines.ingest.chains import ingest_each_chain
    from pipelines.ingest.feeds import FEEDS
    from pipelines.sources import make_sources
    from pipelines.warehouse import ensure_raw_schema

    sources = make_sources(history["config"])
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        ensure_raw_schema(con)
        written = {t: ingest_each_chain(con, FEEDS[t], sources, *history["window"]).rows_written
                   for t in ("lending_events", "lending_reserves")}  # fmt: skip
        assert written == {"lending_events": 10, "lending_reserves": 6}
        landed = con.execute(
            "select event, count(*) from raw.lending_events where protocol = 'compound_v3' group by all"
        ).fetchall()
        assert dict(landed) == {"supply": 3, "withdraw": 1, "borrow": 2, "repay": 2, "liquidation": 1,
                                "collateral_absorbed": 1}  # fmt: skip
        window = tuple(t.replace(tzinfo=None) for t in history["window"])
        for table in written:
            result = validate_raw(con, table, window)
            assert result.passed and result.row_count == written[table], result.summary()


@pytest.mark.slow  # a dbt build
def test_comet_flows_and_state_reach_the_lending_features(history, tmp_path, kimera_home) -> None:
    """Ingest, then dbt: marts.lending has Comet's borrows (the labelled wallet's large one too), its
    liquidation and its utilisation."""
    import duckdb

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
            ingest_each_chain(con, FEEDS[table], sources, *history["window"])
        for table in ("tokens", "wallet_labels"):
            ingest_reference_each_chain(con, REFERENCE_FEEDS[table], config, sources)
    run_dbt(["build", "--select", "+lending"], home=home, dbt_vars=dbt_vars(config))
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        usd = con.execute(
            "select sum(borrow_volume), sum(liquidation_volume), sum(liquidations),"
            " sum(labelled_large_borrow_volume), max_by(utilisation, bar_time) from marts.lending"
            " where asset = 'USD'"
        ).fetchone()
    assert usd[:4] == (pytest.approx(15_654.321101, abs=1e-9), 654.321, 1, 15_000.0)
    assert usd[4] == pytest.approx(0.000101 / 1_000_000.000001, rel=1e-12)
