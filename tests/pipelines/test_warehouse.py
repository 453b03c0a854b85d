"""Raw writes: the table contract in DuckDB, atomic window replacement, and the refusals that keep keys
unique and windows honest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from kimera import schema
from pipelines.warehouse import RowsRefused, ensure_raw_schema, replace_reference, replace_window
from tests.pipelines.ingest.fixture_sources import FixtureChain, FixtureExchange

T0 = datetime(2026, 1, 1)
H1 = T0 + timedelta(hours=1)


@pytest.fixture
def con(tmp_path: Path):
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as connection:
        yield connection


def _all(con, table: schema.RawTable) -> list[tuple]:
    return con.execute(f"SELECT * FROM {table.qualified} ORDER BY ALL").fetchall()


@pytest.mark.parametrize("table", list(schema.RAW_TABLES.values()), ids=lambda t: t.name)
def test_each_raw_table_in_duckdb_has_exactly_the_contract_columns_types_and_nullability(con, table) -> None:
    ensure_raw_schema(con)
    described = con.execute(f"DESCRIBE {table.qualified}").fetchall()
    got = [(name, kind, null == "YES") for name, kind, null, *_ in described]
    want = [(f.name, schema.duckdb_type(f.type), f.nullable) for f in table.schema]
    assert got == want
    # Every key column is NOT NULL, so "the key is unique" means what it says.
    assert all(not table.schema.field(k).nullable for k in table.key)


@pytest.mark.parametrize("table", list(schema.RAW_TABLES.values()), ids=lambda t: t.name)
def test_each_raw_table_refuses_rows_repeating_its_natural_key(con, table) -> None:
    ensure_raw_schema(con)
    one = {f.name: [_value(f)] for f in table.schema}
    rows = pa.concat_tables([pa.table(one).cast(table.schema)] * 2)
    with pytest.raises(RowsRefused, match="repeated natural key"):
        if table.partitioned:
            replace_window(con, table, T0, H1, rows)
        else:
            replace_reference(con, table, rows)
    assert _all(con, table) == []


def _value(field: pa.Field):
    if pa.types.is_timestamp(field.type):
        return T0 + timedelta(minutes=5)
    if pa.types.is_floating(field.type):
        return 1.0
    if pa.types.is_integer(field.type):
        return 1
    return "x"


def test_rewriting_a_window_replaces_exactly_it_and_leaves_neighbours(con) -> None:
    ex = FixtureExchange(["alpha"], ["BTC/USDT"])
    table = schema.EXCHANGE_OHLCV
    replace_window(con, table, T0, T0 + timedelta(hours=3), ex.ohlcv(T0, T0 + timedelta(hours=3)))
    before = _all(con, table)
    changed = FixtureExchange(["alpha"], ["BTC/USDT"], version=5)
    replace_window(con, table, H1, H1 + timedelta(hours=1), changed.ohlcv(H1, H1 + timedelta(hours=1)))
    after = _all(con, table)
    assert len(after) == len(before) == 180
    outside = [r for r in after if not H1 <= r[3] < H1 + timedelta(hours=1)]
    assert outside == [r for r in before if not H1 <= r[3] < H1 + timedelta(hours=1)]
    inside = [r for r in after if H1 <= r[3] < H1 + timedelta(hours=1)]
    assert {r[4] for r in inside} == {r[4] + 5 for r in before if H1 <= r[3] < H1 + timedelta(hours=1)}


def test_a_row_outside_the_window_is_refused_and_nothing_changes(con) -> None:
    ex = FixtureExchange(["alpha"], ["BTC/USDT"])
    table = schema.EXCHANGE_OHLCV
    replace_window(con, table, T0, H1, ex.ohlcv(T0, H1))
    before = _all(con, table)
    # The end of a half-open window belongs to the next one.
    spilling = ex.ohlcv(T0, H1 + timedelta(minutes=1))
    with pytest.raises(RowsRefused, match="1 row\\(s\\) for raw.exchange_ohlcv fall outside"):
        replace_window(con, table, T0, H1, spilling)
    assert _all(con, table) == before


def test_a_key_already_stored_outside_the_window_is_refused(con) -> None:
    """Trades are keyed by the venue's trade id, not by time: the same id an hour later is a clash."""
    table = schema.EXCHANGE_TRADES
    ex = FixtureExchange(["alpha"], ["BTC/USDT"])
    first = ex.trades(T0, H1)
    replace_window(con, table, T0, H1, first)
    moved = first.set_column(3, "ts", pa.array([t + timedelta(hours=1) for t in first["ts"].to_pylist()]))
    with pytest.raises(RowsRefused, match="already stored outside"):
        replace_window(con, table, H1, H1 + timedelta(hours=1), moved.cast(table.schema))
    assert _all(con, table) == sorted(tuple(r.values()) for r in first.to_pylist())


def test_one_sources_write_never_deletes_another_sources_rows(con) -> None:
    table = schema.EXCHANGE_OHLCV
    imported = FixtureExchange(["binance"], ["BTC/USDT"]).ohlcv(T0, H1)
    replace_window(con, table, T0, H1, imported, scope={"venue": ["binance"]})
    sim = FixtureExchange(["alpha", "bravo"], ["BTC/USDT"])
    for _ in range(2):
        replace_window(con, table, T0, H1, sim.ohlcv(T0, H1), scope={"venue": sim.venues()})
    rows = _all(con, table)
    assert sum(r[0] == "binance" for r in rows) == 60
    assert len(rows) == 180
    # And a source may not write rows of a venue it does not own.
    with pytest.raises(RowsRefused, match="outside"):
        replace_window(con, table, T0, H1, imported, scope={"venue": sim.venues()})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.drop_columns(["volume"]), "missing columns \\['volume'\\]"),
        (
            lambda t: t.append_column("colour", pa.array(["red"] * t.num_rows)),
            "unexpected columns \\['colour'\\]",
        ),
        (lambda t: t.set_column(4, "open", pa.array(["cheap"] * t.num_rows)), "wrong type"),
        (
            lambda t: t.set_column(0, "venue", pa.array([None] * t.num_rows, pa.string())),
            "raw.exchange_ohlcv.*null values",
        ),
    ],
    ids=["missing column", "extra column", "text in a number", "null in the key"],
)
def test_rows_breaking_the_contract_are_refused_with_a_clear_message(con, change, message) -> None:
    table = schema.EXCHANGE_OHLCV
    good = FixtureExchange(["alpha"], ["BTC/USDT"]).ohlcv(T0, H1)
    replace_window(con, table, T0, H1, good)
    with pytest.raises(RowsRefused, match=message):
        replace_window(con, table, T0, H1, change(good))
    assert len(_all(con, table)) == 60


def test_aware_window_bounds_are_read_as_utc(con) -> None:
    table = schema.CHAIN_BLOCKS
    rows = FixtureChain().blocks(T0, H1)
    replace_window(con, table, T0.replace(tzinfo=UTC), H1.replace(tzinfo=UTC), rows)
    assert len(_all(con, table)) == 12


def test_reference_rewrite_is_scoped_and_whole(con) -> None:
    table = schema.WALLET_LABELS
    other = pa.table(
        {"chain": ["base"], "address": ["0x" + "9" * 40], "label": ["okx"], "category": ["exchange"]}
    )
    replace_reference(con, table, other, scope={"chain": ["base"]})
    mine = pa.table(
        {
            "chain": ["ethereum"] * 2,
            "address": ["0x" + "1" * 40, "0x" + "2" * 40],
            "label": ["a", "b"],
            "category": ["exchange"] * 2,
        }
    )
    replace_reference(con, table, mine, scope={"chain": ["ethereum"]})
    replace_reference(con, table, mine.slice(0, 1), scope={"chain": ["ethereum"]})
    assert [r[:3] for r in _all(con, table)] == [
        ("base", "0x" + "9" * 40, "okx"),
        ("ethereum", "0x" + "1" * 40, "a"),
    ]
