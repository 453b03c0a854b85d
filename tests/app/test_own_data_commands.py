"""Your own data, end to end with plain commands: `kimera import` a candle dump, then `kimera
features` and `kimera train`; and `kimera ingest --from --to` from the configured sources.

Each command runs the same Dagster job as the UI on the instance under KIMERA_HOME, prints a
summary and names the next command.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner
from dagster import DagsterInstance

from kimera.app.cli import main
from kimera.config import load_config
from kimera.schema import EXCHANGE_OHLCV
from kimera.settings import Settings, get_settings
from pipelines.sources import make_sources
from pipelines.sources.files import export_binance_csv
from tests.pipelines.features.conftest import dbt_manifest  # noqa: F401  (the code location needs it)
from tests.support.config import write_config

DAYS = 30
SMALL_MODELS = {
    "seq_len": 8, "train_bars": 300, "val_bars": 60, "test_bars": 100, "max_windows": 1, "seeds": [0],
    "max_epochs": 2, "patience": 1, "lstm": {"hidden": 8},
    "transformer": {"d_model": 8, "heads": 2, "layers": 1, "ff": 16},
    "lightgbm": {"n_estimators": 40}, "hpo": {"trials": 1, "folds": 1},
}  # fmt: skip


@pytest.fixture
def own_home(kimera_home: Settings, tmp_path: Path, monkeypatch) -> Settings:
    """KIMERA_HOME with a config for hourly candles and small models."""
    path = write_config(
        tmp_path / "kimera.yaml", exchange={"source": "sim", "timeframe": "1h"}, models=SMALL_MODELS
    )
    monkeypatch.setenv("KIMERA_CONFIG", str(path))
    get_settings.cache_clear()
    return get_settings()


def _hourly_dump(tmp_path: Path) -> Path:
    """A month of hourly BTC/USDT candles in Binance's kline dump layout."""
    config = load_config()
    start = config.start_time
    rows = make_sources(config).exchange.ohlcv(start, start + timedelta(days=DAYS))
    btc = rows.filter(
        (rows.column("symbol").to_numpy(zero_copy_only=False) == "BTC/USDT")
        & (rows.column("venue").to_numpy(zero_copy_only=False) == "alpha")
    )
    path = export_binance_csv(btc.select(EXCHANGE_OHLCV.columns), tmp_path / "BTCUSDT-1h-2026-01.csv")
    # the columns Kimera keeps, padded to the dump's 12 (quote volume, trade count, taker volumes, ignore)
    path.write_text("".join(f"{line},0,0,0,0,0\n" for line in path.read_text().splitlines()))
    return path


def _invoke(*args: str):
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result


@pytest.mark.slow
def test_import_a_candle_dump_then_features_then_train(own_home, tmp_path, dbt_manifest):  # noqa: F811
    dump = _hourly_dump(tmp_path)

    imported = _invoke("import", str(dump), "--venue", "binance", "--symbol", "BTC/USDT")
    assert imported.exit_code == 0, imported.output
    assert (
        f"imported {DAYS * 24} rows of BTC/USDT for [2026-01-01 00:00, 2026-01-31 00:00) UTC"
        in imported.output
    )
    assert "next: kimera features --from '2026-01-01 00:00' --to '2026-01-31 00:00'" in imported.output
    assert "set in kimera.yaml" not in imported.output  # the config already fits the dump

    features = _invoke("features")  # the window defaults to the stored candles'
    assert features.exit_code == 0, features.output
    assert "marts.features 720 rows (1 assets" in features.output
    assert "families: technical built" in features.output
    assert "on_chain: NULL (no rows in raw.chain_blocks" in features.output
    assert "Next: kimera train" in features.output

    trained = _invoke("train")
    assert trained.exit_code == 0, trained.output
    assert "train: partition 2026-01-30" in trained.output
    assert "left out" in trained.output and "vwap_dev (NULL on every bar" in trained.output
    for model in ("always_up", "persistence", "linear", "lstm", "ensemble"):
        assert f"  {model}" in trained.output and "accuracy" in trained.output
    assert "Next: kimera serve" in trained.output
    with DagsterInstance.get() as instance:
        jobs = sorted(r.job_name for r in instance.get_runs())
    assert jobs == ["features", "ml_training"]  # the runs show in the UI


def test_ingest_a_window_from_the_configured_sources_and_name_the_next_step(own_home, dbt_manifest):  # noqa: F811
    result = _invoke("ingest", "--from", "2026-01-01", "--to", "2026-01-01 03:00")
    assert result.exit_code == 0, result.output
    assert "Next: kimera features --from '2026-01-01 00:00' --to '2026-01-01 03:00'" in result.output
    with duckdb.connect(str(own_home.warehouse_path), read_only=True) as con:
        hours = con.execute("select count(distinct open_time) from raw.exchange_ohlcv").fetchone()[0]
    assert hours == 3


def test_a_window_before_the_config_start_is_refused_naming_the_fix(own_home):
    result = CliRunner().invoke(main, ["ingest", "--from", "2025-12-01", "--to", "2026-01-02"])
    assert result.exit_code == 2
    assert "--from 2025-12-01 00:00 is before start = 2026-01-01" in result.output
    assert "set start: 2025-12-01 in kimera.yaml" in result.output


def test_import_says_what_in_the_config_stops_features_from_being_built(own_home, tmp_path, monkeypatch):
    dump = _hourly_dump(tmp_path)
    path = write_config(tmp_path / "minute.yaml", start="2026-01-10")  # 1m candles, a later start
    monkeypatch.setenv("KIMERA_CONFIG", str(path))
    get_settings.cache_clear()
    result = _invoke("import", str(dump), "--venue", "binance", "--symbol", "SOL/USDT")
    assert result.exit_code == 0, result.output
    assert "exchange.timeframe: 1h   (features are built from 1m candles)" in result.output
    assert "start: 2026-01-01   (partitions begin at start = 2026-01-10)" in result.output
    assert "assets: [{symbol: SOL, quote: USDT}]" in result.output


def test_train_before_features_or_on_too_little_data_says_what_to_do(own_home):
    own_home.home_dir.mkdir(parents=True, exist_ok=True)
    before = CliRunner().invoke(main, ["train"])
    assert before.exit_code == 2
    assert "run `kimera features` first" in before.output

    with duckdb.connect(str(own_home.warehouse_path)) as con:
        con.execute("create schema marts")
        con.execute(
            "create table marts.labels as select 'BTC' as asset, timestamp '2026-01-02' + to_hours(i) as bar_time, "
            "0.001 as fwd_ret_1, 1 as fwd_dir_1 from range(100) t(i)"
        )
    short = CliRunner().invoke(main, ["train"])
    assert short.exit_code == 2, short.output
    assert (
        "train: not run: 100 labelled bars before 2026-01-06 + 1 day, the walk-forward needs 402"
        in short.output
    )
    assert "Next:" not in short.output
