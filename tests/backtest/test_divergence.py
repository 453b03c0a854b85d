"""``kimera backtest --against-journal``: the journal's window and model replayed, compared bar by bar."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import timedelta

import pytest
from click.testing import CliRunner

from backtest.divergence import backtest_decisions
from execution.journal import Journal
from kimera.app.cli import main

pytestmark = pytest.mark.slow
WORSE_BP = 3.0


def write_journal(path, result, flip_one: bool):
    """A journal (the execution service's schema) holding ``result``'s decisions, every fill 3 bp
    worse, and (``flip_one``) the first decision the other way round."""
    journal = Journal(path)
    journal.open()
    journal.close()
    decisions = backtest_decisions(result)
    flipped = None
    con = sqlite3.connect(path)
    with con:
        for n, ((asset, bar), d) in enumerate(sorted(decisions.items(), key=lambda kv: (kv[0][1], kv[0][0]))):
            side = d.side
            if flip_one and flipped is None:
                side, flipped = {"buy": "sell", "sell": "buy", "none": "buy"}[side], (asset, bar)
            body = {
                "asset": asset,
                "feature_time": f"{bar:%Y-%m-%dT%H:%M:%SZ}",
                "model_tag": result.run["model_tag"],
            }
            parent = f"p{n}" if side != "none" else None
            con.execute(
                "insert into signals values (?, ?, 0, 'accepted', ?, '')", [f"s{n}", json.dumps(body), parent]
            )
            if parent is None:
                continue
            con.execute(
                "insert into parents (parent_id, signal_id, asset, side, quantity, created_at, slices, next_slice, "
                "status) values (?, ?, ?, ?, '1', 0, '[]', 0, 'done')",
                [parent, f"s{n}", asset, side],
            )
            con.execute(
                "insert into orders values (?, ?, ?, 'alpha', ?, ?, ?, '1', null, 'IOC', 'filled', '1', '0', '0', "
                "'1', null, 1, null, null, null, null, 0, 0, 0)",
                [f"o{n}", parent, f"i{n}", f"{asset}/USDT", asset, side],
            )
            if d.average_price:
                worse = d.average_price * (1 + WORSE_BP / 1e4 if side == "buy" else 1 - WORSE_BP / 1e4)
                con.execute(
                    "insert into fills values ('alpha', ?, ?, ?, ?, ?, ?, '0', 0, 0)",
                    [f"f{n}", f"o{n}", f"{asset}/USDT", side, str(worse), str(d.filled)],
                )
    con.close()
    return decisions, flipped


def test_a_journal_of_the_same_decisions_is_matched_bar_by_bar_and_its_differences_measured(
    bt_home, bt_config, bt_compiled, bt_window, tmp_path
):
    from backtest.run import replay

    start, _ = bt_window
    end = start + timedelta(hours=8)
    result = asyncio.run(replay(bt_home, bt_config, bt_compiled, start, end, seed=1))
    path = tmp_path / "paper-journal.sqlite"
    decisions, flipped = write_journal(path, result, flip_one=True)
    assert flipped is not None and len(decisions) >= 10

    config = str(bt_home.home_dir / "kimera.yaml")
    cli = CliRunner().invoke(
        main, ["backtest", "--against-journal", str(path), "--config", config, "--seed", "1", "--json"],
        catch_exceptions=False,
    )  # fmt: skip
    assert cli.exit_code == 0, cli.output
    figures = json.loads(cli.output.strip().splitlines()[-1])["against_journal"]
    assert figures["bars"] == len(decisions)
    assert figures["same_decision"] == pytest.approx((len(decisions) - 1) / len(decisions))
    assert figures["compared_fills"] > 0
    assert figures["median_fill_diff_bp"] == pytest.approx(WORSE_BP, rel=1e-3)
    assert figures["pnl_difference"] > 0  # the journal paid 3 bp more: the backtest is ahead of it

    code = CliRunner().invoke(main, ["backtest", "--against-journal", str(tmp_path / "none.sqlite")])
    assert code.exit_code == 2 and "no journal at" in code.output
