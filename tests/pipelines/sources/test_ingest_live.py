"""Live sources through the real Dagster ingest assets: gaps recorded, reorgs healed, outages failing
the run with their cause while the partition keeps its rows."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dagster import AssetKey, materialize

from kimera.config import load_config
from kimera.settings import Settings, get_settings
from marketsim.exchange_server import ExchangeServer
from pipelines.ingest.assets import build_ingest_assets
from pipelines.ingest.feeds import FEEDS
from pipelines.ingest.partitions import partition_key
from pipelines.ingest.write import ingest_window
from pipelines.resources import KimeraResource, WarehouseResource
from pipelines.sources import make_sources
from pipelines.sources.rows import ts_to_ms
from tests.pipelines.sources.conftest import FAST_RETRY, ChainWorld
from tests.support.config import write_config

NO_DAGSTER_RETRY = {"max_retries": 0, "retry_delay_s": 0}


def _use_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **sections: Any) -> Path:
    path = write_config(tmp_path / "kimera.yaml", ingest=NO_DAGSTER_RETRY, **sections)
    monkeypatch.setenv("KIMERA_CONFIG", str(path))
    get_settings.cache_clear()
    return path


def _materialize(path: Path, settings: Settings, table: str, key: str):
    return materialize(
        build_ingest_assets(load_config(path)),
        selection=[AssetKey(["raw", table])],
        resources={
            "warehouse": WarehouseResource(database=str(settings.warehouse_path)),
            "kimera": KimeraResource(config_path=str(path)),
        },
        partition_key=key,
        raise_on_error=False,
    )


def _failure(result) -> str:
    (event,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    return event.event_specific_data.error.message


def _rows(settings: Settings, sql: str) -> list[tuple]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_exchange_down_fails_the_run_with_its_cause_and_the_partition_keeps_its_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kimera_home: Settings
) -> None:
    with ExchangeServer() as server:
        exchange = {
            "source": "ccxt",
            "ccxt_venues": [server.venue("binance")],
            "retry": {**FAST_RETRY, "attempts": 3},
        }
        path = _use_config(tmp_path, monkeypatch, exchange=exchange)
        hour = datetime.utcnow().replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
        server.market.holes["ETH/USDT"] = [(ts_to_ms(hour) + 600_000, ts_to_ms(hour) + 900_000)]
        assert _materialize(path, kimera_home, "exchange_ohlcv", partition_key(hour)).success
        before = _rows(kimera_home, "SELECT * FROM raw.exchange_ohlcv ORDER BY ALL")
        assert len(before) == 60 + 55
        gaps = _rows(kimera_home, "SELECT symbol, gap_start, missing, status FROM raw.exchange_gaps")
        assert gaps == [("ETH/USDT", hour + timedelta(minutes=10), 5, "missing")]

        server.faults.down = True
        result = _materialize(path, kimera_home, "exchange_ohlcv", partition_key(hour))
    assert not result.success
    message = _failure(result)
    assert (
        "binance load_markets: unreachable after 3 attempt(s)" in message
        and "ExchangeNotAvailable" in message
    )
    assert _rows(kimera_home, "SELECT * FROM raw.exchange_ohlcv ORDER BY ALL") == before


def test_rpc_down_fails_the_run_naming_the_call_without_the_url(
    chain_world: ChainWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kimera_home: Settings
) -> None:
    config = chain_world.config(
        url=chain_world.rpc.url + "v3/SECRETKEY123", chain={"retry": {**FAST_RETRY, "attempts": 2}}
    )
    path = _use_config(
        tmp_path, monkeypatch, chain=config.chain.model_dump(mode="json"), dex={"source": "sim"}
    )
    chain_world.rpc.faults.down = True
    hour = datetime.utcnow().replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
    result = _materialize(path, kimera_home, "chain_blocks", partition_key(hour))
    assert not result.success
    message = _failure(result)
    assert "testchain rpc eth_blockNumber: unreachable after 2 attempt(s)" in message
    assert "SECRETKEY123" not in message


def test_ingest_heals_a_reorg_before_writing_the_next_window(chain_world: ChainWorld, tmp_path: Path) -> None:
    evm, uni = chain_world.evm, chain_world.uni
    t0, t1 = uni.tokens[chain_world.token0], uni.tokens[chain_world.token1]
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    config = chain_world.config(confirmations=0)

    def ingest(start: datetime, end: datetime) -> list:
        sources = make_sources(config)
        tables = ("chain_blocks", "token_transfers", "dex_swaps", "dex_pool_reserves")
        return [ingest_window(con, FEEDS[t], sources, start, end) for t in tables]

    first = evm.head + 1
    evm.send(t0.functions.transfer(chain_world.trader, 10**19))
    snapshot = evm.tester.take_snapshot()
    fork = evm.head + 1
    doomed = uni.swap_exact_in(t0, t1, 10**18, chain_world.trader)
    last = evm.head
    ingest(*chain_world.window(first, last))
    evm.tester.revert_to_snapshot(snapshot)
    evm.send(t1.functions.transfer(evm.accounts[8], 12345))
    evm.mine(3)

    reports = ingest(*chain_world.window(last + 1, evm.head))
    assert reports[0].healed is not None and reports[0].healed.fork == fork
    canonical = {(n, "0x" + evm.w3.eth.get_block(n)["hash"].hex()) for n in range(evm.head + 1)}
    for table in ("chain_blocks", "token_transfers", "dex_swaps", "dex_pool_reserves", "block_coverage"):
        stored = set(con.execute(f"SELECT DISTINCT block_number, block_hash FROM raw.{table}").fetchall())
        assert stored <= canonical, f"orphan rows in raw.{table}"
    swapped = con.execute("SELECT tx_hash FROM raw.dex_swaps").fetchall()
    assert ("0x" + doomed.transactionHash.hex(),) not in swapped
