"""Great Expectations suites for the raw tables, built from their contract (``kimera.schema``).

:func:`validate_raw` loads the rows of one raw table in a window (an ingest partition range, or the
whole table for reference tables) and validates two suites with GX 1.x:

* **quality** (what the features must never see): natural key unique, required columns not null,
  prices positive and finite, volumes and amounts non-negative and finite, sides and categories
  from their sets, candles consistent (high >= open, close >= low), timestamps inside the window
  and ordered (block time never goes back along block number and log index; candles on their
  timeframe's grid), order books not crossed, addresses ``0x`` hex;
* **gaps** (reported, not blocking): a venue, symbol or chain silent for longer than
  ``features.max_gap_minutes`` inside the window.

Each failed expectation comes back with its offending rows (natural key and value), which the
Dagster checks show as metadata. GX is imported inside the functions: it takes seconds to import.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from kimera.config import TIMEFRAME_SECONDS
from kimera.schema import RAW_TABLES, RawTable

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

SAMPLE_ROWS = 20
_DIMENSIONS = {"venue", "symbol", "timeframe", "side", "chain", "dex", "token", "category", "label"}
_FINITE_MAX = sys.float_info.max


@dataclass(frozen=True)
class RawRules:
    """What the quality suite expects of one raw table, beyond its key and non-null columns."""

    positive: tuple[str, ...] = ()  # > 0 and finite (prices)
    non_negative: tuple[str, ...] = ()  # >= 0 and finite (volumes, amounts, counts)
    accepted: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    series: tuple[str, ...] = ()  # one time series per value of these columns (order, gaps)
    ordered_by: tuple[str, ...] = ()  # within a series, time must not decrease along these columns
    not_below: tuple[tuple[str, str], ...] = ()  # (a, b): a >= b on every row
    hex_columns: tuple[str, ...] = ()
    candles: bool = False  # open_time on the timeframe grid; the whole candle inside the window
    book: bool = False  # best bid below best ask in every snapshot
    gaps: bool = False  # report silences longer than max_gap


_HEX = r"^0x[0-9a-fA-F]{40}$"

RULES: dict[str, RawRules] = {
    "exchange_ohlcv": RawRules(
        positive=("open", "high", "low", "close"),
        non_negative=("volume",),
        accepted={"timeframe": tuple(TIMEFRAME_SECONDS)},
        series=("venue", "symbol", "timeframe"),
        not_below=(("high", "open"), ("high", "close"), ("open", "low"), ("close", "low")),
        candles=True,
        gaps=True,
    ),
    "exchange_trades": RawRules(
        positive=("price", "amount"),
        accepted={"side": ("buy", "sell")},
        series=("venue", "symbol"),
        gaps=True,
    ),
    "order_book_snapshots": RawRules(
        positive=("price",),
        non_negative=("amount", "level"),
        accepted={"side": ("bid", "ask")},
        series=("venue", "symbol"),
        book=True,
        gaps=True,
    ),
    "chain_blocks": RawRules(
        non_negative=("tx_count", "active_addresses", "gas_used", "gas_limit", "base_fee_gwei"),
        series=("chain",),
        ordered_by=("block_number",),
        not_below=(("gas_limit", "gas_used"),),
        gaps=True,
    ),
    "token_transfers": RawRules(
        non_negative=("amount",),
        series=("chain",),
        ordered_by=("block_number", "log_index"),
        hex_columns=("token_address", "from_address", "to_address"),
    ),
    "dex_swaps": RawRules(
        positive=("price",),
        series=("chain", "dex", "pool"),
        ordered_by=("block_number", "log_index"),
        hex_columns=("pool",),
    ),
    "dex_pool_reserves": RawRules(
        positive=("price",),
        non_negative=("reserve0", "reserve1"),
        series=("chain", "dex", "pool"),
        ordered_by=("block_number", "log_index"),
        hex_columns=("pool",),
    ),
    "dex_liquidity": RawRules(
        non_negative=("amount0", "amount1"),
        accepted={"event": ("mint", "burn")},
        series=("chain", "dex", "pool"),
        ordered_by=("block_number", "log_index"),
        hex_columns=("pool", "owner"),
    ),
    "lending_events": RawRules(
        non_negative=("amount",),
        accepted={"event": ("supply", "withdraw", "borrow", "repay", "liquidation", "collateral_absorbed")},
        series=("chain", "protocol", "market"),
        ordered_by=("block_number", "log_index"),
        hex_columns=("market", "reserve", "user", "caller"),
    ),
    "lending_reserves": RawRules(
        non_negative=(
            "supply_rate",
            "variable_borrow_rate",
            "stable_borrow_rate",
            "total_supplied",
            "total_borrowed",
        ),
        series=("chain", "protocol", "market"),
        ordered_by=("block_number", "log_index"),
        hex_columns=("market", "reserve"),
    ),
    "dex_pools": RawRules(
        non_negative=("fee_bps", "decimals0", "decimals1"),
        hex_columns=("pool", "token0_address", "token1_address"),
    ),
    "tokens": RawRules(non_negative=("decimals", "whale_threshold"), hex_columns=("token_address",)),
    "wallet_labels": RawRules(
        accepted={"category": ("exchange", "bridge", "fund", "other")}, hex_columns=("address",)
    ),
}


@dataclass(frozen=True)
class Failure:
    """One failed expectation: what was expected, how many rows broke it, and some of them."""

    expectation: str
    unexpected_count: int
    rows: list[dict[str, Any]]


@dataclass(frozen=True)
class SuiteResult:
    suite: str
    table: str
    window: tuple[datetime, datetime] | None
    row_count: int
    evaluated: int
    failures: list[Failure]
    absent: bool = False  # the table does not exist: a source the user does not have (nothing to check)

    @property
    def passed(self) -> bool:
        return not self.failures

    def summary(self) -> str:
        where = f" in [{self.window[0]}, {self.window[1]})" if self.window else ""
        if self.absent:
            return f"raw.{self.table} does not exist (no such source): nothing to check"
        if self.passed:
            return f"raw.{self.table}{where}: {self.evaluated} expectations met by {self.row_count} rows"
        broken = "; ".join(f"{f.expectation} ({f.unexpected_count} rows)" for f in self.failures)
        return (
            f"raw.{self.table}{where}: {len(self.failures)} of {self.evaluated} expectations failed: {broken}"
        )

    def markdown(self) -> str:
        """The offending rows of each failed expectation, as markdown tables."""
        parts: list[str] = []
        for f in self.failures:
            parts.append(f"**{f.expectation}**: {f.unexpected_count} row(s)")
            if f.rows:
                columns = list(dict.fromkeys(c for row in f.rows for c in row))
                parts.append("| " + " | ".join(columns) + " |")
                parts.append("|" + " --- |" * len(columns))
                parts.extend("| " + " | ".join(str(row.get(c, "")) for c in columns) + " |" for row in f.rows)
            parts.append("")
        return "\n".join(parts) or "all expectations met"


def _time_filter(table: RawTable, window: tuple[datetime, datetime] | None) -> tuple[str, list[Any]]:
    if window is None or not table.partitioned:
        return "", []
    col = f'"{table.time_column}"'
    return f"WHERE {col} >= ? AND {col} < ?", [window[0], window[1]]


def _grid_seconds_sql() -> str:
    # BIGINT: the literals are INT32, and an hour in microseconds (3600 * 1000000) overflows INT32.
    cases = " ".join(f"WHEN '{tf}' THEN {s}" for tf, s in TIMEFRAME_SECONDS.items())
    return f"(CASE timeframe {cases} END)::BIGINT"


def load_rows(
    con: duckdb.DuckDBPyConnection, table: RawTable, window: tuple[datetime, datetime] | None
) -> pd.DataFrame:
    """The table's rows in ``window`` (all rows when None or unpartitioned), with derived columns
    that the window, ordering, candle and book expectations read (computed in DuckDB: comparing
    timestamps in GX's pandas engine is slow)."""
    rules = RULES[table.name]
    where, params = _time_filter(table, window)
    derived: list[str] = []
    if window is not None and table.partitioned:
        # Rows are selected by their time, so for most tables this guards the load itself (time
        # zones, casts); a candle must also close inside the window.
        end_of_row = (
            f"open_time + to_seconds({_grid_seconds_sql()})" if rules.candles else f'"{table.time_column}"'
        )
        compare = "<=" if rules.candles else "<"
        derived.append(
            f'("{table.time_column}" >= ?::TIMESTAMP AND {end_of_row} {compare} ?::TIMESTAMP) AS inside_window'
        )
        params = [window[0], window[1], *params]
    if rules.ordered_by:
        order = ", ".join(f'"{c}"' for c in rules.ordered_by)
        partition = ", ".join(f'"{c}"' for c in rules.series)
        derived.append(
            f'epoch("{table.time_column}") - epoch(lag("{table.time_column}") OVER '
            f"(PARTITION BY {partition} ORDER BY {order})) AS time_step_s"
        )
    if rules.candles:
        grid = _grid_seconds_sql()
        derived.append(f"(epoch_us(open_time) % ({grid} * 1000000::BIGINT)) / 1e6 AS grid_offset_s")
    if rules.book:
        snapshot = "PARTITION BY venue, symbol, ts"
        derived.append(
            f"max(price) FILTER (WHERE side = 'bid' AND level = 0) OVER ({snapshot}) "
            f">= min(price) FILTER (WHERE side = 'ask' AND level = 0) OVER ({snapshot}) AS book_crossed"
        )
    select = ", ".join(["*", *derived])
    frame = con.execute(f"SELECT {select} FROM {table.qualified} {where}", params).df()
    # Few distinct values: as categories, GX's batch fingerprint and uniqueness test run several times faster.
    for column in _DIMENSIONS.intersection(frame.columns):
        frame[column] = frame[column].astype("category")
    return frame


def load_gaps(
    con: duckdb.DuckDBPyConnection,
    table: RawTable,
    window: tuple[datetime, datetime],
    max_gap: timedelta,
) -> pd.DataFrame:
    """Silences per series inside ``window``: between consecutive rows, and from the window's start
    to the first row and from the last row to its end. Only silences longer than ``max_gap / 2``
    are returned (the expectation then flags those over ``max_gap``)."""
    rules = RULES[table.name]
    series = ", ".join(f'"{c}"' for c in rules.series)
    col = f'"{table.time_column}"'
    query = f"""
        WITH moments AS (
            SELECT DISTINCT {series}, {col} AS t FROM {table.qualified} WHERE {col} >= ? AND {col} < ?
        ),
        bounded AS (
            SELECT * FROM moments
            UNION ALL SELECT DISTINCT {series}, ?::TIMESTAMP FROM moments
            UNION ALL SELECT DISTINCT {series}, ?::TIMESTAMP FROM moments
        ),
        silences AS (
            SELECT {series}, lag(t) OVER (PARTITION BY {series} ORDER BY t) AS silent_from, t AS silent_until
            FROM bounded
        )
        SELECT *, (epoch(silent_until) - epoch(silent_from)) / 60.0 AS silence_minutes
        FROM silences
        WHERE silent_from IS NOT NULL AND silent_until - silent_from > ?
    """
    params = [window[0], window[1], window[0], window[1], max_gap / 2]
    return con.execute(query, params).df()


def quality_expectations(table: RawTable, window: tuple[datetime, datetime] | None) -> list[Any]:
    """The quality suite's expectations for ``table`` (GX expectation objects)."""
    import great_expectations.expectations as gxe

    rules = RULES[table.name]
    out: list[Any] = [gxe.ExpectCompoundColumnsToBeUnique(column_list=list(table.key))]
    out += [gxe.ExpectColumnValuesToNotBeNull(column=f.name) for f in table.schema if not f.nullable]
    out += [
        gxe.ExpectColumnValuesToBeBetween(column=c, min_value=0, max_value=_FINITE_MAX, strict_min=True)
        for c in rules.positive
    ]
    out += [
        gxe.ExpectColumnValuesToBeBetween(column=c, min_value=0, max_value=_FINITE_MAX)
        for c in rules.non_negative
    ]
    out += [gxe.ExpectColumnValuesToBeInSet(column=c, value_set=list(v)) for c, v in rules.accepted.items()]
    out += [
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A=a, column_B=b, or_equal=True)
        for a, b in rules.not_below
    ]
    out += [gxe.ExpectColumnValuesToMatchRegex(column=c, regex=_HEX) for c in rules.hex_columns]
    if rules.ordered_by:
        out.append(gxe.ExpectColumnValuesToBeBetween(column="time_step_s", min_value=0))
    if rules.candles:
        out.append(gxe.ExpectColumnValuesToBeBetween(column="grid_offset_s", min_value=0, max_value=0))
    if rules.book:
        out.append(gxe.ExpectColumnValuesToBeInSet(column="book_crossed", value_set=[False]))
    if window is not None and table.partitioned:
        out.append(gxe.ExpectColumnValuesToBeInSet(column="inside_window", value_set=[True]))
    return out


def _describe(config: Any) -> str:
    kwargs = {
        k: v
        for k, v in config.kwargs.items()
        if k not in {"batch_id", "result_format"} and v is not None and v is not False
    }
    args = ", ".join(f"{k}={v}" for k, v in kwargs.items())
    return f"{config.type}({args})"


def _plain(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return value


def _validate(name: str, table: RawTable, frame: pd.DataFrame, expectations: list[Any], index: list[str]):
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    asset = context.data_sources.add_pandas("raw").add_dataframe_asset(name=table.name)
    batch = asset.add_batch_definition_whole_dataframe("window").get_batch(
        batch_parameters={"dataframe": frame}
    )
    suite = gx.ExpectationSuite(name=f"raw.{table.name}.{name}", expectations=expectations)
    result_format = {
        "result_format": "SUMMARY",
        "partial_unexpected_count": SAMPLE_ROWS,
        "unexpected_index_column_names": index,
    }
    result = batch.validate(suite, result_format=result_format)
    failures: list[Failure] = []
    for r in result.results:
        if r.success:
            continue
        details = r.result or {}
        rows = details.get("partial_unexpected_index_list") or []
        if not rows:
            rows = [{"value": v} for v in details.get("partial_unexpected_list") or []]
        if r.exception_info and r.exception_info.get("raised_exception"):
            rows = [{"error": r.exception_info.get("exception_message")}]
        failures.append(
            Failure(
                expectation=_describe(r.expectation_config),
                unexpected_count=int(details.get("unexpected_count") or len(rows) or 1),
                rows=[{k: _plain(v) for k, v in row.items()} for row in rows[:SAMPLE_ROWS]],
            )
        )
    return len(expectations), failures


def validate_raw(
    con: duckdb.DuckDBPyConnection, table_name: str, window: tuple[datetime, datetime] | None = None
) -> SuiteResult:
    """Validate the quality suite on ``raw.<table_name>`` rows in ``window`` (naive UTC, half-open)."""
    table = RAW_TABLES[table_name]
    if not _exists(con, table):
        return SuiteResult("quality", table.name, window, 0, 0, [], absent=True)
    frame = load_rows(con, table, window)
    expectations = quality_expectations(table, window)
    index = [c for c in table.key if c in frame.columns]
    evaluated, failures = _validate("quality", table, frame, expectations, index)
    return SuiteResult("quality", table.name, window, len(frame), evaluated, failures)


def report_gaps(
    con: duckdb.DuckDBPyConnection,
    table_name: str,
    window: tuple[datetime, datetime],
    max_gap: timedelta,
    sessions: Mapping[str, Any] | None = None,
) -> SuiteResult:
    """Validate the gaps suite: no series of ``raw.<table_name>`` silent for longer than ``max_gap``
    of open market time; ``sessions`` maps an asset (``BTC`` of ``BTC/USDT``) to its calendar
    (a ``kimera.sessions.Calendar`` or a weekly name), so a market closed at a weekend or on a
    holiday is not silent then."""
    import great_expectations.expectations as gxe

    table = RAW_TABLES[table_name]
    if not _exists(con, table):
        return SuiteResult("gaps", table.name, window, 0, 0, [], absent=True)
    frame = load_gaps(con, table, window, max_gap)
    if "timeframe" in frame.columns and len(frame):
        # a candle covers its whole timeframe: the silence after it starts at its close (the row
        # from the window's start to the first candle is undercounted by one candle: no matter)
        step_minutes = frame["timeframe"].astype(str).map(TIMEFRAME_SECONDS).astype(float) / 60.0
        frame["silence_minutes"] = (frame["silence_minutes"] - step_minutes).clip(lower=0.0)
    if sessions and "symbol" in frame.columns and len(frame):
        from pipelines.features.sessions import closed_seconds

        closed = [
            closed_seconds(
                a.to_pydatetime(), b.to_pydatetime(), sessions.get(str(symbol).split("/")[0], "24/7")
            )
            for symbol, a, b in zip(frame["symbol"], frame["silent_from"], frame["silent_until"], strict=True)
        ]
        frame["silence_minutes"] = frame["silence_minutes"] - [c / 60.0 for c in closed]
    expectations = [
        gxe.ExpectColumnValuesToBeBetween(column="silence_minutes", max_value=max_gap.total_seconds() / 60)
    ]
    index = [*RULES[table.name].series, "silent_from", "silent_until"]
    evaluated, failures = _validate("gaps", table, frame, expectations, index)
    return SuiteResult("gaps", table.name, window, len(frame), evaluated, failures)


def _exists(con: duckdb.DuckDBPyConnection, table: RawTable) -> bool:
    found = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'raw' AND table_name = ? "
        "AND database_name = current_database()",
        [table.name],
    ).fetchone()
    return bool(found and found[0])
