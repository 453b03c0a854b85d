"""The plain ingest functions: windows split into whole chunks, chunk-atomic writes, reference rows."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from kimera.config import load_config
from pipelines.ingest.feeds import FEEDS, REFERENCE_FEEDS
from pipelines.ingest.write import ingest_reference, ingest_window, split_window
from pipelines.sources import Sources
from tests.pipelines.ingest.conftest import REPO_CONFIG
from tests.pipelines.ingest.fixture_sources import Faulty, fixture_sources

T0 = datetime(2026, 1, 1)


@pytest.fixture
def con(tmp_path: Path):
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as connection:
        yield connection


@pytest.mark.parametrize(("hours", "chunk_hours"), [(1, 24), (24, 24), (30, 24), (73, 6), (5, 1)])
def test_split_window_covers_the_window_exactly_in_whole_chunks(hours: int, chunk_hours: int) -> None:
    end = T0 + timedelta(hours=hours)
    pieces = list(split_window(T0, end, timedelta(hours=chunk_hours)))
    assert pieces[0][0] == T0 and pieces[-1][1] == end
    assert all(a[1] == b[0] for a, b in zip(pieces, pieces[1:], strict=False))
    assert all(timedelta(0) < e - s <= timedelta(hours=chunk_hours) for s, e in pieces)
    assert len(pieces) == -(-hours // chunk_hours)


def test_split_window_refuses_an_empty_window_or_chunk() -> None:
    with pytest.raises(ValueError, match="before its end"):
        list(split_window(T0, T0, timedelta(hours=1)))
    with pytest.raises(ValueError, match="chunk must be positive"):
        list(split_window(T0, T0 + timedelta(hours=1), timedelta(0)))


def test_a_window_is_fetched_and_written_chunk_by_chunk(con) -> None:
    exchange = Faulty(fixture_sources().exchange)
    sources = Sources(exchange=exchange, chain=fixture_sources().chain, dex=fixture_sources().dex)
    seen = []
    report = ingest_window(
        con,
        FEEDS["exchange_ohlcv"],
        sources,
        T0,
        T0 + timedelta(hours=30),
        chunk=timedelta(hours=24),
        on_chunk=lambda s, e, n, done, total: seen.append((s, e, n, done, total)),
    )
    day = T0 + timedelta(hours=24)
    assert exchange.calls["ohlcv"] == [(T0, day), (day, T0 + timedelta(hours=30))]
    assert [(s, e, done, total) for s, e, _, done, total in seen] == [
        (T0, day, 1, 2),
        (day, T0 + timedelta(hours=30), 2, 2),
    ]
    assert report.rows_written == 30 * 60 * 2 == sum(rows for _, _, rows, _, _ in seen)
    assert report.chunks == 2 and report.table_rows == report.rows_written
    assert [row["open_time"] for row in report.preview] == [
        T0,
        T0,
        T0 + timedelta(minutes=1),
        T0 + timedelta(minutes=1),
        T0 + timedelta(minutes=2),
    ]


def test_a_source_failing_mid_window_leaves_each_chunk_old_or_wholly_new(con) -> None:
    end = T0 + timedelta(days=3)
    ingest_window(con, FEEDS["chain_blocks"], fixture_sources(version=0), T0, end)
    old = con.execute("SELECT * FROM raw.chain_blocks ORDER BY ALL").fetchall()

    def fail_second_day(call: int, rows):
        if call == 2:
            raise ConnectionError("node went away")
        return rows

    newer = fixture_sources(version=1)
    chain = Faulty(newer.chain, blocks=fail_second_day)
    with pytest.raises(ConnectionError, match="node went away"):
        ingest_window(con, FEEDS["chain_blocks"], Sources(newer.exchange, chain, newer.dex), T0, end)
    after = con.execute("SELECT * FROM raw.chain_blocks ORDER BY ALL").fetchall()
    day1 = T0 + timedelta(days=1)
    assert {r[5] for r in after if r[4] < day1} == {11}  # tx_count of version 1: the first day committed
    assert [r for r in after if r[4] >= day1] == [r for r in old if r[4] >= day1]
    assert len(after) == len(old)


def test_reference_rows_come_from_the_config_lower_cased(con) -> None:
    config = load_config(REPO_CONFIG)
    sources = fixture_sources()
    ingest_reference(con, REFERENCE_FEEDS["tokens"], config, sources)
    report = ingest_reference(con, REFERENCE_FEEDS["wallet_labels"], config, sources)
    tokens = con.execute(
        "SELECT token, token_address, decimals, asset FROM raw.tokens ORDER BY token"
    ).fetchall()
    assert tokens == sorted(
        (t.symbol, t.address.lower(), t.decimals, t.asset or t.symbol) for t in config.chain.tokens
    )
    assert report.rows_written == len(config.chain.exchange_wallets)
    labels = con.execute("SELECT address, label FROM raw.wallet_labels ORDER BY ALL").fetchall()
    assert labels == sorted((w.address.lower(), w.label) for w in config.chain.exchange_wallets)
