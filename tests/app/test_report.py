"""The report draws what the warehouse and the journal hold, and says plainly what they do not."""

from __future__ import annotations

import asyncio
import shutil
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from kimera.app.cli import main
from kimera.app.report import build_report
from kimera.app.report.data import Journal
from kimera.app.report.pnl import summarise
from kimera.settings import Settings
from tests.dbt.conftest import DAYS, built_home, full_build, raw_home, sim_config, sim_window  # noqa: F401
from tests.execution.conftest import exec_env, paper, service, signal  # noqa: F401
from tests.support.servers import postgres  # noqa: F401  (fixture)

PNG = b"\x89PNG\r\n\x1a\n"


def _with_warehouse(settings: Settings, source: Path) -> Settings:
    settings.home_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source / "warehouse.duckdb", settings.warehouse_path)
    return settings


def _is_png(path: Path) -> bool:
    return path.read_bytes()[:8] == PNG and path.stat().st_size > 10_000


def test_an_empty_home_gets_a_page_that_says_what_is_missing(kimera_home: Settings) -> None:
    report = build_report(kimera_home)
    page = report.path.read_text()
    assert report.path == kimera_home.report_dir / "index.html"
    assert report.pictures == [] and "<img" not in page
    assert "Not shown: no warehouse at" in page and "run `kimera demo`" in page
    assert "Not shown: no execution journal" in page
    assert set(report.missing) == {
        "pipeline",
        "prices",
        "features",
        "models",
        "paper",
        "accounts",
        "arbitrage",
        "backtest",
    }
    assert "Not shown: no accounts snapshot at" in page  # the demo saves GET /accounts while its service runs
    printed = CliRunner().invoke(main, ["report"])
    assert printed.exit_code == 0, printed.output
    assert f"report: {report.path.as_uri()} (0 plots)" in printed.output
    assert "not shown (paper): no execution journal" in printed.output


def test_raw_tables_alone_draw_the_venues_and_say_dex_prices_and_features_wait_for_dbt(
    kimera_home: Settings,
    raw_home: Path,  # noqa: F811
) -> None:
    _with_warehouse(kimera_home, raw_home)
    report = build_report(kimera_home)
    page = report.path.read_text()
    assert [p.name for p in report.pictures] == ["prices.png"] and _is_png(report.pictures[0])
    assert "(alpha, bravo, charlie)" in page  # every simulated venue is drawn, no pool without dbt
    assert "DEX prices in USD come from dbt" in " ".join(report.missing["prices"])
    assert "marts.features is built by dbt" in " ".join(report.missing["features"])
    with duckdb.connect(str(kimera_home.warehouse_path), read_only=True) as con:
        rows = con.execute("SELECT count(*) FROM raw.exchange_ohlcv").fetchone()[0]
    assert f"<td>raw.exchange_ohlcv</td>\n      <td>{rows:,}</td>" in page


@pytest.mark.slow
def test_a_built_warehouse_draws_the_pools_and_the_features_with_their_information_coefficient(
    kimera_home: Settings,
    built_home: Path,  # noqa: F811
) -> None:
    _with_warehouse(kimera_home, built_home)
    stale = kimera_home.report_dir / "equity.png"
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_bytes(b"a picture of an earlier run")
    report = build_report(kimera_home)
    page = report.path.read_text()
    assert [p.name for p in report.pictures] == ["prices.png", "features.png"]
    assert all(_is_png(p) for p in report.pictures)
    assert not stale.exists()  # no journal now: the old equity curve is not shown as if current
    assert "uniswap_v2 0x004375" in page and "uniswap_v2 0xb4e16d" in page  # both pools beside the venues
    with duckdb.connect(str(kimera_home.warehouse_path), read_only=True) as con:
        ic = con.execute(
            "SELECT corr(net_exchange_flow_z, fwd_ret_1) FROM marts.features JOIN marts.labels "
            "USING (asset, bar_time) WHERE asset = 'BTC'"
        ).fetchone()[0]
    assert f"{ic:.4g}" in page
    assert "no model evaluations: ml.evaluations is written by the train stage" in report.missing["models"]


@pytest.mark.slow
async def test_paper_trading_is_drawn_from_the_real_journal_and_its_pnl_matches_the_service(
    kimera_home: Settings,
    service,  # noqa: F811
) -> None:
    for i, (asset, forecast) in enumerate([("BTC", 0.004), ("ETH", -0.004), ("BTC", -0.004)]):
        answer = await service.handle_signal(signal(i, asset, forecast=forecast, width=0.004))
        assert answer["outcome"] == "orders", answer
    for _ in range(100):  # fills arrive through the venue's update stream
        if not service.oms.live_orders() and all(p.fills for p in service.portfolio.positions.values()):
            break
        await asyncio.sleep(0.1)
    settings = service.settings
    report = await asyncio.to_thread(build_report, settings)
    assert [p.name for p in report.pictures if p.name in {"equity.png", "fills.png"}] == [
        "equity.png",
        "fills.png",
    ]
    assert all(_is_png(p) for p in report.pictures)

    with Journal(settings.journal_path) as journal:
        fills = journal.fills()
    # The service's own accounting (average cost), marked where the report marks: each asset's last fill.
    expected = Decimal(0)
    for asset, position in service.portfolio.positions.items():
        last = Decimal(str(fills.loc[fills["asset"] == asset, "price"].iloc[-1]))
        expected += position.realised + position.unrealised(last) - position.fees
    assert summarise(fills).pnl == pytest.approx(float(expected), abs=1e-6)
    assert summarise(fills).fills == sum(p.fills for p in service.portfolio.positions.values())
    page = report.path.read_text()
    assert f"P&amp;L {float(expected):+,.2f}" in page
    assert "signals</b>: orders 3" in page


async def test_the_report_reads_a_postgresql_journal_as_it_reads_a_sqlite_one(
    tmp_path: Path,
    postgres,  # noqa: F811
) -> None:
    """``execution.journal_url`` may name PostgreSQL: the report's reader goes through execution's."""
    from execution.journal import Journal as ServiceJournal
    from tests.execution.test_journal import _exercise

    sqlite_url = f"sqlite:///{tmp_path / 'journal.sqlite'}"
    await _exercise(ServiceJournal(sqlite_url))
    url = postgres.url(postgres.create_database("journal"))
    await _exercise(ServiceJournal(url))
    with Journal(sqlite_url) as lite, Journal(url) as pg:
        assert sum(pg.orders_by_state().values()) == 302
        assert pg.orders_by_state() == lite.orders_by_state()
        assert pg.live_orders() == lite.live_orders() > 0
        columns = ["venue", "fill_id", "asset", "side", "price", "amount", "fee"]
        assert pg.fills()[columns].equals(lite.fills()[columns])
        assert f"{postgres.role}@" not in pg.path  # where it reads, without the user


def test_the_live_loops_predictions_are_counted_by_what_became_of_them(kimera_home: Settings) -> None:
    """A paper day run through ``kimera live`` leaves no ``ml.signal_pushes``; its record is
    ``raw.live_predictions``, and the report and the demo's summary say what it holds."""
    from datetime import datetime, timedelta

    from kimera.app.report.data import Warehouse
    from kimera.schema import LIVE_PREDICTIONS

    kimera_home.home_dir.mkdir(parents=True, exist_ok=True)
    t0 = datetime(2026, 3, 1, 10)
    reasons = [None, None, None, "alpha BTC/USDT missing 2026-03-01 10:05..10:09: websocket down",
               "model m1 trained until 2026-01-01 00:00:00, 59 days before this bar",
               f"bar {t0} was already signalled before a restart (outbox up to {t0})"]  # fmt: skip
    with duckdb.connect(str(kimera_home.warehouse_path)) as con:
        con.execute("CREATE SCHEMA raw")
        con.execute(LIVE_PREDICTIONS.ddl())
        for i, reason in enumerate(reasons):
            con.execute(
                "INSERT INTO raw.live_predictions VALUES (?, 'm1', 'BTC', ?, 1, 0.001, -0.01, 0.01, 0.55, ?, ?, ?, ?, ?, ?)",
                [f"live-{i}", t0 + timedelta(hours=i), reason is None, reason, t0, 40.0 + i, 1.0, 2.0],
            )
    with Warehouse(kimera_home.warehouse_path) as wh:
        phrases = wh.live_signals()
    assert phrases[:4] == [
        "sent 3",
        "not sent: stale model 1",
        "not sent: replayed or warm-up bar 1",
        "not sent: a gap in the bar 1",
    ]
    assert "bars 2026-03-01 10:00 to 2026-03-01 12:00 sent" in phrases[4]
    assert "watermark -> features 41.0 ms, model 1.0 ms, outbox 2.0 ms" in phrases[4]
    page = build_report(kimera_home).path.read_text()
    assert "Predictions of the live loop (<code>kimera live</code>): sent 3; not sent: stale model 1" in page
