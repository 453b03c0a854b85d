"""``kimera backtest``: its rows, its figures, fills only at quoted prices, and the same rows again
for the same inputs and seed."""

from __future__ import annotations

import asyncio
import json
import shutil
from datetime import timedelta

import duckdb
import pytest
from click.testing import CliRunner

from kimera.app.cli import main

pytestmark = pytest.mark.slow
TABLES = ("backtests", "backtest_orders", "backtest_fills", "backtest_equity")


def kimera(*args: str):
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def rows_of(warehouse, run_id: str) -> dict[str, list[tuple]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {
            t: con.execute(f"select * from ml.{t} where run_id = ? order by all", [run_id]).fetchall()
            for t in TABLES
        }


def test_a_backtest_writes_its_rows_prints_its_figures_and_repeats_byte_for_byte(bt_home, bt_window):
    start, end = bt_window
    config = str(bt_home.home_dir / "kimera.yaml")
    args = [
        "backtest",
        "--from",
        f"{start:%Y-%m-%d %H:%M}",
        "--to",
        f"{end:%Y-%m-%d %H:%M}",
        "--config",
        config,
    ]
    code, out = kimera(*args, "--seed", "5", "--json")
    assert code == 0, out
    run = json.loads(out.strip().splitlines()[-1])
    first = rows_of(bt_home.warehouse_path, run["run_id"])
    assert run["orders"] > 5 and run["fills"] > 0 and run["bars"] == 24
    assert len(first["backtest_orders"]) == run["orders"] and len(first["backtest_fills"]) == run["fills"]
    assert len(first["backtest_equity"]) == 24
    (stored,) = first["backtests"]
    assert stored[0] == run["run_id"] and json.loads(run["input_partitions"])["exchange_trades"]["rows"] > 0

    code, out = kimera(*args, "--seed", "5")
    assert code == 0, out
    for words in (
        "total return",
        "Sharpe",
        "Sortino",
        "max drawdown",
        "win rate",
        "turnover",
        "walk-forward",
    ):
        assert words in out
    assert run["run_id"] in out
    again = rows_of(bt_home.warehouse_path, run["run_id"])
    assert json.dumps(again, default=str) == json.dumps(first, default=str)
    journal = bt_home.home_dir / "backtest" / run["run_id"] / "journal.jsonl"
    kinds = {json.loads(line)["kind"] for line in journal.read_text().splitlines()}
    assert {"order", "fill"} <= kinds

    with duckdb.connect(str(bt_home.warehouse_path), read_only=True) as con:
        # every CEX fill is at a level a snapshot at or before it quoted, on the side it took
        unquoted = con.execute(
            """
            select count(*) from ml.backtest_fills f
            where f.run_id = ? and f.liquidity = 'taker' and not exists (
              select 1 from raw.order_book_snapshots b
              where b.venue = f.venue and b.symbol = f.symbol and b.ts <= f.ts and b.price = f.price
                and b.side = case f.side when 'buy' then 'ask' else 'bid' end)
            """,
            [run["run_id"]],
        ).fetchone()[0]
        late = con.execute(
            "select count(*) from ml.backtest_orders where run_id = ? and arrive_at <= decided_at",
            [run["run_id"]],
        ).fetchone()[0]
    assert unquoted == 0 and late == 0

    from kimera.app.report import build_report

    report = build_report(bt_home)
    page = report.path.read_text()
    assert "backtest" not in report.missing and run["run_id"] in page
    assert "vectorised walk-forward, same model and bars" in page and "slippage vs arrival" in page
    assert {p.name for p in report.pictures} >= {"backtest_equity.png", "backtest_fills.png"}


def test_another_seed_samples_other_latencies(bt_home, bt_config, bt_compiled, bt_window):
    from backtest.run import replay

    start, _ = bt_window
    end = start + timedelta(hours=6)
    a = asyncio.run(replay(bt_home, bt_config, bt_compiled, start, end, seed=1))
    b = asyncio.run(replay(bt_home, bt_config, bt_compiled, start, end, seed=2))
    assert a.run["run_id"] != b.run["run_id"]
    assert [o.decision_id for o in a.orders][:3] == [o.decision_id for o in b.orders][:3]
    assert [o.arrive_at for o in a.orders] != [o.arrive_at for o in b.orders]


def test_a_window_off_the_bar_grid_or_without_a_model_is_refused_naming_the_problem(
    kimera_home, raw_warehouse, bt_window
):
    start, end = bt_window
    window = ["--from", f"{start:%Y-%m-%d %H:%M}", "--to", f"{end:%Y-%m-%d %H:%M}"]
    code, out = kimera("backtest", *window)
    assert code == 2 and "no warehouse at" in out
    kimera_home.home_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(raw_warehouse, kimera_home.warehouse_path)
    code, out = kimera("backtest", *window)
    assert code == 2 and "no model to backtest: nothing promoted yet" in out
    code, out = kimera("backtest", *window, "--model", "kimera-nope:v1")
    assert code == 2 and "--model: no model 'kimera-nope:v1' in the store" in out
    code, out = kimera("backtest", "--from", f"{start:%Y-%m-%d} 00:10", "--to", f"{end:%Y-%m-%d %H:%M}")
    assert code == 2 and "not on the 1h bar grid" in out
    code, out = kimera("backtest", "--from", f"{start:%Y-%m-%d %H:%M}", "--to", f"{start:%Y-%m-%d %H:%M}")
    assert code == 2 and "must be after" in out
