"""Exchange dumps: the public Binance kline/trade CSVs (zipped or not) and Parquet, into raw tables.

Accepted (from data.binance.vision, spot or futures):

* klines ``open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,
  taker_buy_quote_volume,ignore`` -> ``raw.exchange_ohlcv``; the timeframe comes from
  ``close_time - open_time``;
* trades ``id,price,qty,quote_qty,time,is_buyer_maker[,is_best_match]`` and aggTrades
  ``agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker
  [,is_best_match]`` -> ``raw.exchange_trades`` (aggTrades ids are what the ccxt source stores);
* with or without a header line; times in milliseconds, or microseconds (spot files from 2025),
  told apart by magnitude;
* Parquet with a raw table's columns (``venue``/``symbol`` optional) or Binance's column names.

Kimera keeps open time, OHLCV and (derived) close time of a kline, and id, time, side, price and
amount of a trade; quote volume, trade count and taker-buy volumes are not stored.

A file is parsed and checked in full before anything is written, then its time range is replaced
in one transaction: a bad file changes nothing and the error names the line and column.
"""

from __future__ import annotations

import io
import logging
import re
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from glob import glob
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from kimera.config import ConfigError, FileDump, KimeraConfig, load_config
from kimera.schema import EXCHANGE_OHLCV, EXCHANGE_TRADES, RawTable, conform
from pipelines.sources.rows import EPOCH
from pipelines.warehouse import replace_window

log = logging.getLogger(__name__)

KLINE_COLUMNS = ["open_time", "open", "high", "low", "close", "volume", "close_time", "quote_volume",
                 "count", "taker_buy_volume", "taker_buy_quote_volume", "ignore"]  # fmt: skip
TRADE_COLUMNS = ["id", "price", "qty", "quote_qty", "time", "is_buyer_maker", "is_best_match"]
AGG_COLUMNS = ["agg_trade_id", "price", "quantity", "first_trade_id", "last_trade_id", "transact_time",
               "is_buyer_maker", "is_best_match"]  # fmt: skip
INTERVALS_MS = {1_000: "1s", 60_000: "1m", 180_000: "3m", 300_000: "5m", 900_000: "15m", 1_800_000: "30m",
                3_600_000: "1h", 7_200_000: "2h", 14_400_000: "4h", 21_600_000: "6h", 28_800_000: "8h",
                43_200_000: "12h", 86_400_000: "1d", 259_200_000: "3d", 604_800_000: "1w"}  # fmt: skip
MICROS_FROM = 10**14  # a millisecond time this large is year 5138; a microsecond one is 1973
ACCEPTED = (
    "accepted: Binance kline CSVs (12 columns), trades CSVs (6 or 7 columns), aggTrades CSVs (7 or 8 "
    "columns), each zipped or not and with or without a header, or Parquet with raw.exchange_ohlcv / "
    "raw.exchange_trades columns"
)
_NAME = re.compile(
    r"^(?P<pair>[A-Z0-9]+)-(?P<kind>\d+[smhdw]|trades|aggTrades)-(?P<y>\d{4})-(?P<m>\d{2})(?:-(?P<d>\d{2}))?\.(?:zip|csv)$"
)


class DumpError(ValueError):
    """A dump Kimera cannot read; the message names the file, the line and column, and what is accepted."""


@dataclass(frozen=True)
class Dump:
    """One parsed file: rows for ``table`` covering the half-open window ``[start, end)``."""

    source: str
    kind: str  # klines | trades | aggTrades | parquet
    table: RawTable
    rows: pa.Table
    start: datetime
    end: datetime
    timeframe: str | None = None

    def scope(self, venue: str, symbol: str) -> dict[str, list[str]]:
        scope = {"venue": [venue], "symbol": [symbol]}
        if self.timeframe:
            scope["timeframe"] = [self.timeframe]
        return scope


# --- reading -----------------------------------------------------------------------------------------
def _csv_members(path: Path) -> list[tuple[str, bytes]]:
    if path.suffix.lower() == ".zip":
        try:
            with zipfile.ZipFile(path) as archive:
                members = [n for n in archive.namelist() if n.lower().endswith(".csv")]
                if not members:
                    raise DumpError(f"{path}: the zip holds no .csv file; {ACCEPTED}")
                return [(f"{path.name}:{n}", archive.read(n)) for n in members]
        except zipfile.BadZipFile as exc:
            raise DumpError(f"{path}: not a readable zip ({exc}); {ACCEPTED}") from None
    return [(path.name, path.read_bytes())]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _detect_layout(name: str, first_line: str) -> tuple[str, list[str], bool]:
    """(kind, column names, has header) from the first line and the file name."""
    fields = [f.strip() for f in first_line.split(",")]
    header = not _is_number(fields[0])
    hint = "aggTrades" if "aggTrades" in name else "trades" if "-trades-" in name else None
    if header:
        for kind, columns in (
            ("klines", KLINE_COLUMNS),
            ("trades", TRADE_COLUMNS),
            ("aggTrades", AGG_COLUMNS),
        ):
            if fields == columns[: len(fields)] and len(fields) >= len(columns) - 1:
                return kind, fields, True
        raise DumpError(f"{name}: line 1: header {first_line.strip()!r} is not a Binance layout; {ACCEPTED}")
    n = len(fields)
    if n == 12:
        kind = "klines"
    elif n == 8:
        kind = "aggTrades"
    elif n == 6:
        kind = "trades"
    elif n == 7:  # spot trades end in two booleans; aggTrades (futures) have a time in column 6
        kind = "trades" if fields[5].lower() in ("true", "false") else "aggTrades"
    else:
        raise DumpError(f"{name}: line 1 has {n} columns; {ACCEPTED}")
    if hint and hint != kind and kind != "klines":
        raise DumpError(f"{name}: the name says {hint} but line 1 looks like {kind}; {ACCEPTED}")
    columns = {"klines": KLINE_COLUMNS, "trades": TRADE_COLUMNS, "aggTrades": AGG_COLUMNS}[kind][:n]
    return kind, columns, False


def _types(kind: str, columns: list[str]) -> dict[str, pa.DataType]:
    floats = {"open", "high", "low", "close", "volume", "price", "qty", "quantity"}
    ints = {"open_time", "close_time", "id", "time", "agg_trade_id", "transact_time"}
    types = {c: pa.float64() for c in columns if c in floats}
    types |= {c: pa.int64() for c in columns if c in ints}
    types |= {c: pa.bool_() for c in columns if c in ("is_buyer_maker", "is_best_match")}
    return types


def _find_bad_value(name: str, text: str, columns: list[str], types: dict, header: bool) -> DumpError:
    """Locate the first line and column that does not parse (pyarrow's message has no line number)."""
    for number, line in enumerate(text.splitlines(), start=1):
        if header and number == 1 or not line.strip():
            continue
        fields = line.split(",")
        if len(fields) != len(columns):
            return DumpError(
                f"{name}: line {number} has {len(fields)} columns, expected {len(columns)} "
                f"({','.join(columns)}); {ACCEPTED}"
            )
        for column, value in zip(columns, fields, strict=True):
            kind = types.get(column)
            ok = (
                kind is None
                or (kind == pa.float64() and _is_number(value))
                or (kind == pa.int64() and value.strip().lstrip("-").isdigit())
                or (kind == pa.bool_() and value.strip().lower() in ("true", "false", "1", "0"))
            )
            if not ok:
                return DumpError(
                    f"{name}: line {number}, column {columns.index(column) + 1} ({column}): "
                    f"{value!r} is not a {'number' if kind != pa.bool_() else 'true/false'}; {ACCEPTED}"
                )
    return DumpError(f"{name}: could not be read as CSV; {ACCEPTED}")


def _read_csv(name: str, data: bytes) -> tuple[str, pa.Table, bool]:
    text = data.decode("utf-8-sig", errors="strict")
    lines = text.lstrip().splitlines()
    if not lines:
        raise DumpError(f"{name}: the file is empty; {ACCEPTED}")
    kind, columns, header = _detect_layout(name, lines[0])
    types = _types(kind, columns)
    try:
        table = pacsv.read_csv(
            io.BytesIO(text.encode()),
            read_options=pacsv.ReadOptions(column_names=columns, skip_rows=1 if header else 0),
            convert_options=pacsv.ConvertOptions(
                column_types=types,
                include_columns=list(types),
                true_values=["True", "true", "1"],
                false_values=["False", "false", "0"],
                strings_can_be_null=False,
            ),  # fmt: skip
        )
    except pa.ArrowInvalid:
        raise _find_bad_value(name, text, columns, types, header) from None
    for column in types:
        if table.column(column).null_count:
            index = table.column(column).is_null().to_pylist().index(True)
            raise DumpError(
                f"{name}: line {index + 1 + header}, column {columns.index(column) + 1} ({column}) is empty; {ACCEPTED}"
            )
    return kind, table, header


def _first(mask: pa.Array) -> int:
    return pc.index(mask, True).as_py()


def _times(name: str, values: pa.Array, column: str, header: bool) -> tuple[pa.Array, int]:
    """Microsecond timestamps from ms or µs epoch integers (unit by magnitude, one unit per file)."""
    values = pa.chunked_array([values]) if isinstance(values, pa.Array) else values
    micros = values[0].as_py() >= MICROS_FROM
    wrong_unit = pc.not_equal(pc.greater_equal(values, MICROS_FROM), micros)
    bad = pc.or_(pc.less_equal(values, 0), wrong_unit)
    if pc.any(bad).as_py():
        index = _first(bad)
        raise DumpError(
            f"{name}: line {index + 1 + header}, column {column}: {values[index].as_py()} is not a "
            f"{'microsecond' if micros else 'millisecond'} epoch time like line {1 + header}'s; "
            "a file must use one unit"
        )
    scale = 1 if micros else 1000
    return pc.multiply(values, scale).cast(pa.timestamp("us")), scale


def _duplicate(name: str, values: pa.ChunkedArray, column: str, header: bool) -> None:
    if len(pc.unique(values)) == len(values):
        return
    seen: dict[object, int] = {}
    for index, value in enumerate(values.to_pylist()):
        if value in seen:
            raise DumpError(
                f"{name}: line {index + 1 + header} repeats {column} {value} of line {seen[value] + 1 + header}"
            )
        seen[value] = index


def _klines(name: str, table: pa.Table, header: bool, venue: str, symbol: str) -> Dump:
    opens, scale = _times(name, table.column("open_time"), "open_time", header)
    closes, _ = _times(name, table.column("close_time"), "close_time", header)
    _duplicate(name, table.column("open_time"), "open_time", header)
    spans = pc.subtract(closes.cast(pa.int64()), opens.cast(pa.int64()))
    span_ms = (spans[0].as_py() + scale) // 1000  # close_time is the bar's last tick
    timeframe = INTERVALS_MS.get(span_ms)
    if timeframe is None:
        raise DumpError(
            f"{name}: line {1 + header}: close_time - open_time is {span_ms} ms, not a Binance interval "
            f"({', '.join(INTERVALS_MS.values())}; 1mo is not accepted)"
        )
    differs = pc.not_equal(spans, spans[0])
    if pc.any(differs).as_py():
        raise DumpError(
            f"{name}: line {_first(differs) + 1 + header}: bar length differs from line {1 + header}'s "
            f"{timeframe}; a file must hold one timeframe"
        )
    rows = pa.table(
        {
            "venue": pa.array([venue] * table.num_rows, pa.string()),
            "symbol": pa.array([symbol] * table.num_rows, pa.string()),
            "timeframe": pa.array([timeframe] * table.num_rows, pa.string()),
            "open_time": opens,
            **{c: table.column(c) for c in ("open", "high", "low", "close", "volume")},
        }
    )
    _check_bars(name, rows, header)
    first, last = pc.min(opens).as_py(), pc.max(opens).as_py()
    return Dump(name, "klines", EXCHANGE_OHLCV, conform(EXCHANGE_OHLCV, rows), first,
                last + timedelta(milliseconds=span_ms), timeframe)  # fmt: skip


def _check_bars(name: str, rows: pa.Table, header: bool) -> None:
    o, h, lo, c = (rows.column(x) for x in ("open", "high", "low", "close"))
    bad = pc.or_(
        pc.or_(pc.less(h, pc.max_element_wise(o, c)), pc.greater(lo, pc.min_element_wise(o, c))),
        pc.less(pc.min_element_wise(lo, rows.column("volume")), 0),
    )
    if pc.any(bad).as_py():
        raise DumpError(
            f"{name}: line {_first(bad) + 1 + header}: high must be >= open and close, low <= them, and "
            "prices and volume must not be negative"
        )


def _trades(name: str, kind: str, table: pa.Table, header: bool, venue: str, symbol: str) -> Dump:
    id_column, time_column, amount_column = (
        ("agg_trade_id", "transact_time", "quantity") if kind == "aggTrades" else ("id", "time", "qty")
    )
    stamps, _ = _times(name, table.column(time_column), time_column, header)
    _duplicate(name, table.column(id_column), id_column, header)
    rows = pa.table(
        {
            "venue": pa.array([venue] * table.num_rows, pa.string()),
            "symbol": pa.array([symbol] * table.num_rows, pa.string()),
            "trade_id": table.column(id_column).cast(pa.string()),
            "ts": stamps,
            "side": pc.if_else(table.column("is_buyer_maker"), "sell", "buy"),
            "price": table.column("price"),
            "amount": table.column(amount_column),
        }
    )
    first, last = pc.min(stamps).as_py(), pc.max(stamps).as_py()
    return Dump(
        name, kind, EXCHANGE_TRADES, conform(EXCHANGE_TRADES, rows), first, last + timedelta(microseconds=1)
    )


def _parquet(path: Path, venue: str, symbol: str) -> Dump:
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise DumpError(f"{path.name}: not a readable Parquet file ({exc}); {ACCEPTED}") from None
    names = set(table.column_names)
    for column, wanted in (("venue", venue), ("symbol", symbol)):
        if column in names:
            others = set(pc.unique(table.column(column)).to_pylist()) - {wanted}
            if others:
                raise DumpError(
                    f"{path.name}: column {column} holds {sorted(others)}, not --{column} {wanted!r}"
                )
            table = table.drop_columns([column])
    names = set(table.column_names)
    if {"open_time", "close_time", "open"} <= names or {"transact_time"} <= names or {"qty", "time"} <= names:
        kind = "klines" if "close_time" in names else "aggTrades" if "transact_time" in names else "trades"
        columns = {"klines": KLINE_COLUMNS, "trades": TRADE_COLUMNS, "aggTrades": AGG_COLUMNS}[kind]
        picked = table.select([c for c in columns if c in names])
        if picked.schema.field(columns[0]).type != pa.int64():
            raise DumpError(f"{path.name}: {columns[0]} must hold epoch ms or µs integers")
        return _from_binance(path.name, kind, picked, False, venue, symbol)
    for raw in (EXCHANGE_OHLCV, EXCHANGE_TRADES):
        wanted = set(raw.columns) - {"venue", "symbol"}
        if wanted <= names:
            table = table.select(sorted(wanted))
            rows = table.append_column("venue", pa.array([venue] * table.num_rows, pa.string()))
            rows = rows.append_column("symbol", pa.array([symbol] * table.num_rows, pa.string()))
            try:
                rows = conform(raw, rows)
            except ValueError as exc:
                raise DumpError(f"{path.name}: {exc}") from None
            times = rows.column(raw.time_column)
            if rows.num_rows == 0:
                raise DumpError(f"{path.name}: no rows")
            first, last = pc.min(times).as_py(), pc.max(times).as_py()
            timeframes = pc.unique(rows.column("timeframe")).to_pylist() if raw is EXCHANGE_OHLCV else [None]
            if len(timeframes) != 1:
                raise DumpError(f"{path.name}: holds several timeframes {timeframes}; import one per file")
            step = (
                timedelta(milliseconds=_step_ms(timeframes[0]))
                if timeframes[0]
                else timedelta(microseconds=1)
            )
            return Dump(path.name, "parquet", raw, rows, first, last + step, timeframes[0])
    raise DumpError(f"{path.name}: columns {sorted(names)} match no accepted layout; {ACCEPTED}")


def _step_ms(timeframe: str) -> int:
    for ms, name in INTERVALS_MS.items():
        if name == timeframe:
            return ms
    raise DumpError(f"timeframe {timeframe!r} is not one of {', '.join(INTERVALS_MS.values())}")


def _from_binance(name: str, kind: str, table: pa.Table, header: bool, venue: str, symbol: str) -> Dump:
    if table.num_rows == 0:
        raise DumpError(f"{name}: no rows")
    if kind == "klines":
        return _klines(name, table, header, venue, symbol)
    return _trades(name, kind, table, header, venue, symbol)


def read_dump(path: Path, venue: str, symbol: str) -> list[Dump]:
    """Parse and check one file (a zip may hold several CSVs) into raw rows; nothing is written."""
    path = Path(path)
    if path.suffix.lower() == ".parquet":
        return [_parquet(path, venue, symbol)]
    if path.suffix.lower() not in (".csv", ".zip"):
        raise DumpError(f"{path.name}: unknown file type {path.suffix!r}; {ACCEPTED}")
    dumps = []
    for name, data in _csv_members(path):
        try:
            kind, table, header = _read_csv(name, data)
        except UnicodeDecodeError:
            raise DumpError(f"{name}: not UTF-8 text; {ACCEPTED}") from None
        dumps.append(_from_binance(name, kind, table, header, venue, symbol))
    return dumps


def dump_files(path: Path) -> list[Path]:
    """The dumps at ``path``: the file itself, or the .csv/.zip/.parquet files of a folder, sorted."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in (".csv", ".zip", ".parquet"))
        if not files:
            raise DumpError(f"{path}: the folder holds no .csv, .zip or .parquet file; {ACCEPTED}")
        return files
    return [path]


# --- writing -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Imported:
    source: str
    table: str
    rows: int
    start: datetime
    end: datetime
    timeframe: str | None


def read_dumps(path: Path, venue: str, symbol: str) -> list[Dump]:
    """Parse and check every dump at ``path`` (a file or a folder); nothing is written."""
    return [d for file in dump_files(Path(path)) for d in read_dump(file, venue, symbol)]


def write_dumps(con: duckdb.DuckDBPyConnection, dumps: list[Dump], venue: str, symbol: str) -> list[Imported]:
    """Write parsed dumps: each replaces its own time range for (venue, symbol[, timeframe]) atomically."""
    done = []
    for dump in dumps:
        count = replace_window(
            con, dump.table, dump.start, dump.end, dump.rows, scope=dump.scope(venue, symbol)
        )
        done.append(Imported(dump.source, dump.table.qualified, count, dump.start, dump.end, dump.timeframe))
        log.info("imported %d rows of %s from %s", count, dump.table.qualified, dump.source)
    return done


def import_dump(con: duckdb.DuckDBPyConnection, path: Path, venue: str, symbol: str) -> list[Imported]:
    """Import a dump file or folder: every file is checked before any is written; each replaces its range."""
    return write_dumps(con, read_dumps(path, venue, symbol), venue, symbol)


def import_dump_cli(path: Path, venue: str, symbol: str) -> None:
    """``kimera import``: import into the warehouse under KIMERA_HOME and print what was written."""
    import click

    from kimera.settings import prepare_home

    if not re.fullmatch(r"[A-Z0-9]{1,15}/[A-Z0-9]{1,15}", symbol):
        raise click.BadParameter(
            f"{symbol!r}: use the unified form BASE/QUOTE, e.g. BTC/USDT", param_hint="--symbol"
        )
    if not re.fullmatch(r"[a-z][a-z0-9_]{1,30}", venue):
        raise click.BadParameter(
            f"{venue!r}: lower-case letters, digits and _, e.g. binance", param_hint="--venue"
        )
    settings = prepare_home()
    try:
        dumps = read_dumps(path, venue, symbol)
    except DumpError as exc:
        click.secho(f"import refused, nothing written: {exc}", fg="red", err=True)
        raise SystemExit(2) from None
    try:
        con = duckdb.connect(str(settings.warehouse_path))
    except duckdb.IOException as exc:
        click.secho(
            f"the warehouse {settings.warehouse_path} is open in another process (a Dagster run?): {exc}",
            fg="red", err=True,
        )  # fmt: skip
        raise SystemExit(1) from None
    try:
        imported = write_dumps(con, dumps, venue, symbol)
        for done in imported:
            tf = f" {done.timeframe}" if done.timeframe else ""
            click.echo(
                f"{done.source}: {done.rows} rows into {done.table} ({venue} {symbol}{tf}) "
                f"for [{done.start:%Y-%m-%d %H:%M:%S}, {done.end:%Y-%m-%d %H:%M:%S})"
            )
    finally:
        con.close()
    try:
        config = load_config(settings=settings)
    except ConfigError as exc:
        click.secho(
            f"imported; the config does not load, so features cannot be built yet: {exc}", fg="yellow"
        )
        return
    for line in import_summary(imported, symbol, config):
        click.echo(line)


def import_summary(imported: list[Imported], symbol: str, config: KimeraConfig) -> list[str]:
    """The range imported, what in the config stops features being built from it, and the next command."""
    if not imported:
        return ["nothing imported"]
    start = min(d.start for d in imported)
    end = max(d.end for d in imported)
    lines = [
        f"imported {sum(d.rows for d in imported)} rows of {symbol} for [{start:%Y-%m-%d %H:%M}, {end:%Y-%m-%d %H:%M}) UTC"
    ]
    first_hour = start.replace(minute=0, second=0, microsecond=0)
    last_hour = end.replace(minute=0, second=0, microsecond=0)
    last_hour += timedelta(hours=1) if last_hour < end else timedelta(0)
    todo: list[str] = []
    timeframes = sorted({d.timeframe for d in imported if d.timeframe})
    if timeframes and config.exchange.timeframe not in timeframes:
        todo.append(
            f"exchange.timeframe: {timeframes[0]}   (features are built from {config.exchange.timeframe} candles)"
        )
    if first_hour < config.start_time:
        todo.append(
            f"start: {first_hour:%Y-%m-%d}   (partitions begin at start = {config.start.isoformat()})"
        )
    if symbol not in {a.pair for a in config.assets}:
        base, quote = symbol.split("/")
        todo.append(
            f"assets: [{{symbol: {base}, quote: {quote}}}]   ({symbol} is not one of the config's pairs)"
        )
    if config.exchange.source == "sim" and (todo or not _simulator_can_run(config)):
        # the simulated world must fit the assets; imported candles do not need it at all
        todo.append(
            "exchange.source: file, with files: [{path: <the dump>, venue: <venue>, symbol: "
            f"{symbol}}}]   (your candles, not the simulator's: its sim section is then not checked)"
        )
    if todo:
        lines.append("to build features from it, set in kimera.yaml:")
        lines += [f"  {item}" for item in todo]
    lines.append(
        f"next: kimera features --from '{first_hour:%Y-%m-%d %H:%M}' --to '{last_hour:%Y-%m-%d %H:%M}'"
    )
    return lines


def _simulator_can_run(config: KimeraConfig) -> bool:
    """Whether the config's simulated exchange could be built (the code location refuses it if not)."""
    from connect.sim import check_simulated_world

    try:
        check_simulated_world(config)
    except ConfigError:
        return False
    return True


# --- exporting (Binance layout) --------------------------------------------------------------------
def _number(value: float, decimals: int | None) -> str:
    return f"{value:.{decimals}f}" if decimals is not None else repr(float(value))


def export_binance_csv(
    rows: pa.Table,
    path: Path,
    *,
    decimals: int | None = 8,
    micros: bool = False,
    header: bool = False,
) -> Path:
    """Write raw candles or trades in Binance's dump layout, the columns Kimera keeps.

    Candles: open_time, open, high, low, close, volume, close_time; trades: id, price, qty, time,
    is_buyer_maker. ``decimals=8`` prints like spot dumps, ``None`` like futures dumps (shortest
    form); ``micros`` writes microsecond times (spot files from 2025).
    """
    per_unit = 1 if micros else 1000  # microseconds per written time unit
    lines = []
    if "open_time" in rows.column_names:
        timeframes = set(rows.column("timeframe").to_pylist())
        if len(timeframes) != 1:
            raise ValueError(f"export one timeframe at a time, got {sorted(timeframes)}")
        step_us = _step_ms(timeframes.pop()) * 1000
        if header:
            lines.append(",".join(KLINE_COLUMNS[:7]))
        for r in sorted(rows.to_pylist(), key=lambda r: r["open_time"]):
            open_us = (r["open_time"] - EPOCH) // timedelta(microseconds=1)
            prices = [_number(r[c], decimals) for c in ("open", "high", "low", "close", "volume")]
            lines.append(
                ",".join([str(open_us // per_unit), *prices, str((open_us + step_us) // per_unit - 1)])
            )
    else:
        if header:
            lines.append("id,price,qty,time,is_buyer_maker")
        for r in sorted(rows.to_pylist(), key=lambda r: (r["ts"], int(r["trade_id"]))):
            ts_us = (r["ts"] - EPOCH) // timedelta(microseconds=1)
            maker = "True" if r["side"] == "sell" else "False"
            lines.append(",".join([r["trade_id"], _number(r["price"], decimals), _number(r["amount"], decimals),
                                   str(ts_us // per_unit), maker]))  # fmt: skip
    path.write_text("\n".join(lines) + "\n")
    return path


# --- exchange.source: file -------------------------------------------------------------------------
class FileExchangeSource:
    """:class:`~pipelines.sources.base.ExchangeSource` over dumps listed in ``exchange.files``.

    Files are matched by their glob, picked by the date in Binance's file names (or by their
    contents), parsed once and kept in a small cache.
    """

    def __init__(self, config: KimeraConfig) -> None:
        self.config = config
        self._cache: OrderedDict[tuple[str, float], list[Dump]] = OrderedDict()

    def venues(self) -> list[str]:
        return sorted({f.venue for f in self.config.exchange.files})

    def ohlcv(self, start: datetime, end: datetime) -> pa.Table:
        return self._rows(EXCHANGE_OHLCV, start, end)

    def trades(self, start: datetime, end: datetime) -> pa.Table:
        return self._rows(EXCHANGE_TRADES, start, end)

    def order_books(self, start: datetime, end: datetime) -> pa.Table:
        from kimera.schema import ORDER_BOOK_SNAPSHOTS

        return ORDER_BOOK_SNAPSHOTS.empty()  # dumps hold no books

    def _rows(self, table: RawTable, start: datetime, end: datetime) -> pa.Table:
        parts = []
        for entry in self.config.exchange.files:
            for path in sorted(Path(p) for p in glob(entry.path)):
                covered = _covered_by_name(path.name)
                if covered is not None and not (covered[0] < end and start < covered[1]):
                    continue
                for dump in self._parsed(path, entry):
                    if dump.table is table and dump.start < end and start < dump.end:
                        times = dump.rows.column(table.time_column)
                        inside = pc.and_(
                            pc.greater_equal(times, pa.scalar(start, times.type)),
                            pc.less(times, pa.scalar(end, times.type)),
                        )
                        parts.append(dump.rows.filter(inside))
        return pa.concat_tables(parts) if parts else table.empty()

    def _parsed(self, path: Path, entry: FileDump) -> list[Dump]:
        key = (str(path.resolve()), path.stat().st_mtime)
        if key not in self._cache:
            self._cache[key] = read_dump(path, entry.venue, entry.symbol)
            while len(self._cache) > 8:
                self._cache.popitem(last=False)
        self._cache.move_to_end(key)
        return self._cache[key]


def _covered_by_name(name: str) -> tuple[datetime, datetime] | None:
    """The UTC day or month a Binance file name says it covers, or None for other names."""
    match = _NAME.match(name)
    if not match:
        return None
    year, month = int(match["y"]), int(match["m"])
    if match["d"]:
        first = datetime(year, month, int(match["d"]))
        return first, first + timedelta(days=1)
    first = datetime(year, month, 1)
    return first, datetime(year + month // 12, month % 12 + 1, 1)
