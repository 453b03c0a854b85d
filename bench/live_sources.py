"""Live-source speed: importing Binance dumps, and paging candles through ccxt.

* Dump import: parse and fully check a month of 1-minute klines and a million trades (Binance
  layout, as `kimera import` does before writing), against DuckDB's ``read_csv`` of the same file
  into a table in the same run (a peer: a C++ parser that checks only types).
* ccxt paging: a day of 1-minute candles for two symbols from the local test exchange through
  the real ccxt binance class and Kimera's paging, gap checks and retries, against plain HTTP GETs
  of the same requests with httpx on a kept-alive connection (a ceiling: the transport alone).
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from bench import Measure

# The local exchange server and dump writers live in tests/support (the offline tests use them too);
# `kimera bench` runs from the console script, whose sys.path does not hold the repository.
REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.append(str(REPO_ROOT))

DAY_2024 = 1_704_067_200_000


def _best(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return min(times)


def _dump_measures(folder: Path, quick: bool) -> list[Measure]:
    import duckdb

    from marketsim.binance_dumps import kline_lines, trade_lines, write_csv
    from pipelines.sources.files import read_dump

    bars = 7 * 1440 if quick else 31 * 1440
    trades = 100_000 if quick else 1_000_000
    files = {
        "klines": (write_csv(folder / "BTCUSDT-1m-2024-01.csv", kline_lines(DAY_2024, bars, 60_000)), bars),
        "trades": (
            write_csv(folder / "BTCUSDT-trades-2024-01-01.csv", trade_lines(DAY_2024, trades)),
            trades,
        ),
    }
    measures = []
    for kind, (path, rows) in files.items():
        ours = _best(lambda p=path: read_dump(p, "binance", "BTC/USDT"))
        con = duckdb.connect()
        ceiling = _best(lambda p=path, c=con: c.execute(
            f"CREATE OR REPLACE TABLE t AS SELECT * FROM read_csv('{p}', header=false)"))  # fmt: skip
        con.close()
        value, baseline = rows / ours, rows / ceiling
        measures.append(
            Measure(
                f"import Binance {kind} CSV (parse + checks)",
                value,
                "rows/s",
                "DuckDB read_csv, same file",
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
        ours = _best(lambda: source.ohlcv(start, end), repeat=1)
        pages = server.requests[before:]
        ours = min(ours, _best(lambda: source.ohlcv(start, end), repeat=2))
        with httpx.Client() as client:

            def raw() -> None:
                for page in pages:
                    client.get(
                        f"{server.base_url}/{page.host}{page.path}", params=page.query
                    ).raise_for_status()

            raw()
            ceiling = _best(raw)
    value, baseline = rows / ours, rows / ceiling
    return Measure("ccxt OHLCV paging (binance dialect, local)", value, "candles/s", "httpx GETs of the same pages",
                   baseline, value / baseline, "ratio >= 0.3", value / baseline >= 0.3)  # fmt: skip


def run(quick: bool = False) -> list[Measure]:
    with tempfile.TemporaryDirectory() as folder:
        measures = _dump_measures(Path(folder), quick)
    measures.append(_ccxt_measure(quick))
    return measures
