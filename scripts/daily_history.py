"""Write a KIMERA_HOME holding YEARS of daily weekday candles, to time or profile ``kimera features``
on a long daily history (docs/features.md, "Long daily histories").

Usage (from the repository root):

    KIMERA_HOME=/tmp/daily KIMERA_CONFIG=/tmp/daily/kimera.yaml DAGSTER_HOME=/tmp/daily/dagster \\
        .venv/bin/python scripts/daily_history.py 2
    KIMERA_HOME=/tmp/daily KIMERA_CONFIG=/tmp/daily/kimera.yaml DAGSTER_HOME=/tmp/daily/dagster \\
        .venv/bin/python -m cProfile -o /tmp/daily/features.prof -m kimera.app.cli features
"""

from __future__ import annotations

import math
import sys
from datetime import datetime, timedelta

import duckdb
import pyarrow as pa

from kimera.schema import EXCHANGE_OHLCV
from kimera.settings import get_settings
from pipelines.warehouse import ensure_raw_schema, replace_window
from tests.support.config import write_config


def main(years: int) -> None:
    settings = get_settings()
    start = datetime(2018, 1, 1)
    end = start + timedelta(days=365 * years)
    settings.home_dir.mkdir(parents=True, exist_ok=True)
    write_config(
        settings.config,
        start=start.date().isoformat(),
        assets=[{"symbol": "SPY", "quote": "USD", "sessions": "weekdays"}],
        exchange={
            "source": "file",
            "timeframe": "1d",
            "files": [{"path": "spy.csv", "venue": "nyse", "symbol": "SPY/USD"}],
        },
        features={
            "bar": "1d",
            "horizons": [1],
            "return_lags": [1, 5, 20],
            "vol_window": 20,
            "zscore_window": 20,
        },
    )
    rows, day, n = [], start, 0
    while day < end:
        if day.weekday() < 5:
            close = 100 * math.exp(0.01 * math.sin(n))
            rows.append({"venue": "nyse", "symbol": "SPY/USD", "timeframe": "1d", "open_time": day,
                         "open": close, "high": close * 1.01, "low": close * 0.99, "close": close,
                         "volume": 1000.0 + n % 7})  # fmt: skip
            n += 1
        day += timedelta(days=1)
    with duckdb.connect(str(settings.warehouse_path)) as con:
        ensure_raw_schema(con, [EXCHANGE_OHLCV])
        table = pa.Table.from_pylist(rows, schema=EXCHANGE_OHLCV.schema)
        stored = replace_window(con, EXCHANGE_OHLCV, start, end, table, scope={"venue": ["nyse"]})
    print(f"{stored} daily candles in {settings.warehouse_path}; config {settings.config}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
