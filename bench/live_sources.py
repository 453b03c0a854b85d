"""Live-source speed: importing Binance dumps, and paging candles through ccxt.

* Dump import: what `kimera import` does with a month of 1-minute klines and a million trades
  (Binance layout): parse, check every row, and write them into ``raw.*`` of a DuckDB file (one
  transaction replacing the window), against DuckDB's ``CREATE TABLE AS SELECT * FROM read_csv``
  of the same file into a new DuckDB file, in the same run (a peer that parses, checks only types,
  and writes too). Both sides start from a fresh file each time, so both pay for the write.
* ccxt paging: a day of 1-minute candles for two symbols from the local test exchange through
  the real ccxt binance class and Kimera's paging, gap checks and retries, against plain HTTP GETs
  of the same requests with httpx on a kept-alive connection (a ceiling: the transport alone).
"""

from __future__ import annotations

import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

from bench import Measure, best_time

# The local exchange server and dump writers live in tests/support (the offline tests use them too);
# `kimera bench` runs from the console script, whose sys.path does not hold the repository.
REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.append(str(REPO_ROOT))

DAY_2024 = 1_704_067_200_000


def _fresh_file(folder: Path, name: str) -> Path:
    path = folder / name
    for leftover in (path, path.with_name(path.name + ".wal")):
        leftover.unlink(missing_ok=True)
    return path


def _dump_measures(folder: Path, quick: bool) -> list[Measure]:
    import duckdb

    from marketsim.binance_dumps import kline_lines, trade_lines, write_csv
    from pipelines.sources.files import import_dump

    bars = 7 * 1440 if quick else 31 * 1440
    trades = 100_000 if quick else 1_000_000
    files = {
        "klines": (write_csv(folder / "BTCUSDT-1m-2024-01.csv", kline_lines(DAY_2024, bars, 60_000)), bars),
        "trades": (
            write_csv(folder / "BTCUSDT-trades-2024-01-01.csv", trade_lines(DAY_2024, trades)),
            trades,
        ),
    }

    def ours(path: Path) -> None:  # `kimera import`: parse, checks, write into raw.* of a warehouse file
        with duckdb.connect(str(_fresh_file(folder, "ours.duckdb"))) as con:
            import_dump(con, path, "binance", "BTC/USDT")

    def peer(path: Path) -> None:  # DuckDB alone: parse, types, write into a table of a new file
        with duckdb.connect(str(_fresh_file(folder, "peer.duckdb"))) as con:
            con.execute(f"CREATE TABLE t AS SELECT * FROM read_csv('{path}', header=false)")

    measures = []
    for kind, (path, rows) in files.items():
        value, baseline = rows / best_time(lambda p=path: ours(p)), rows / best_time(lambda p=path: peer(p))
        measures.append(
            Measure(
                f"import Binance {kind} CSV into a warehouse file (parse + checks + write to raw)",
                value,
                "rows/s",
                "DuckDB CREATE TABLE AS read_csv into a new file (parse + types + write), same CSV",
                baseline,
                value / baseline,
                "ratio >= 0.2",
                value / baseline >= 0.2,
            )  # fmt: skip
        )
    return measures


def _ccxt_measure(quick: bool) -> Measure:
    import httpx
    import yaml

    from kimera.config import parse_config
    from kimera.settings import get_settings
    from marketsim.exchange_server import ExchangeServer
    from pipelines.sources.ccxt_exchange import CcxtExchangeSource

    hours = 6 if quick else 24
    with ExchangeServer() as server:
        data = yaml.safe_load(
            get_settings().config.read_text()
        )  # the config the user runs, one section replaced
        data["exchange"] = {"source": "ccxt", "ccxt_venues": [server.venue("binance")]}
        source = CcxtExchangeSource(parse_config(data))
        end = datetime.utcnow().replace(second=0, microsecond=0) - timedelta(hours=1)
        start = end - timedelta(hours=hours)
        rows = source.ohlcv(start, end).num_rows  # warm: markets loaded, connection open
        before = len(server.requests)
        ours = best_time(lambda: source.ohlcv(start, end), repeat=1)
        pages = server.requests[before:]
        ours = min(ours, best_time(lambda: source.ohlcv(start, end), repeat=2))
        with httpx.Client() as client:

            def raw() -> None:
                for page in pages:
                    client.get(
                        f"{server.base_url}/{page.host}{page.path}", params=page.query
                    ).raise_for_status()

            raw()
            ceiling = best_time(raw)
    value, baseline = rows / ours, rows / ceiling
    return Measure("ccxt OHLCV paging (binance dialect, local)", value, "candles/s", "httpx GETs of the same pages",
                   baseline, value / baseline, "ratio >= 0.3", value / baseline >= 0.3)  # fmt: skip


def run(quick: bool = False) -> list[Measure]:
    with tempfile.TemporaryDirectory() as folder:
        measures = _dump_measures(Path(folder), quick)
    measures.append(_ccxt_measure(quick))
    return measures
