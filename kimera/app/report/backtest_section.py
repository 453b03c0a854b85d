"""The report's backtest section: the newest ``kimera backtest`` run beside the vectorised
walk-forward, its costs per venue, equity and drawdown, and fills per venue."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pandas as pd

from kimera.app.report.data import Missing, Warehouse
from kimera.app.report.sections import Section
from models import plots

PICTURES = ("backtest_equity.png", "backtest_fills.png")


def _fmt(value, pattern: str) -> str:
    return "n/a" if value is None or pd.isna(value) else pattern.format(value)


def backtest(wh: Warehouse, out: Path) -> Section:
    section = Section("backtest", "Backtest: history through the live loop and the execution path")
    if wh.con is None or not wh.has("ml", "backtests"):
        section.lack(Missing("no backtest yet: run `kimera backtest --from DAY --to DAY` (docs/backtest.md)"))
        return section
    runs = wh.con.execute(
        "select * from ml.backtests order by data_end desc, data_start asc, run_id limit 1"
    ).df()
    if runs.empty:
        section.lack(Missing("no backtest yet: run `kimera backtest --from DAY --to DAY` (docs/backtest.md)"))
        return section
    r = runs.iloc[0]
    section.paragraphs.append(
        f"<p>Run <code>{html.escape(r['run_id'])}</code>, model <code>{html.escape(str(r['model_tag']))}</code>, "
        f"{r['data_start']} to {r['data_end']}, seed {r['seed']}: {r['events']:,} events, {r['bars']} bars, "
        f"{r['orders']} orders, {r['fills']} fills.</p>"
    )
    rows = [
        ("total return", _fmt(r["total_return"], "{:+.4%}"), _fmt(r["wf_total_return"], "{:+.4%} (log)")),
        ("Sharpe", _fmt(r["sharpe"], "{:.2f}"), _fmt(r["wf_sharpe"], "{:.2f}")),
        ("Sortino", _fmt(r["sortino"], "{:.2f}"), "—"),
        ("max drawdown", _fmt(r["max_drawdown"], "{:.4%}"), _fmt(r["wf_max_drawdown"], "{:.4%}")),
        ("win rate", _fmt(r["win_rate"], "{:.1%}"), "—"),
        ("turnover per bar", _fmt(r["turnover"], "{:.4f}"), "—"),
    ]
    section.paragraphs.append(
        "<table><tr><th></th><th>event-driven backtest</th><th>vectorised walk-forward, same model and bars</th></tr>"
        + "".join(f"<tr><td>{a}</td><td>{b}</td><td>{html.escape(c)}</td></tr>" for a, b, c in rows)
        + "</table>"
    )
    section.paragraphs.append(f"<p>{html.escape(r['difference'])}.</p>")
    per_venue = json.loads(r["per_venue"])
    if per_venue:
        section.paragraphs.append(
            "<table><tr><th>venue</th><th>fills</th><th>notional</th><th>fees</th><th>gas</th>"
            "<th>slippage vs arrival</th><th>slippage bp</th></tr>"
            + "".join(
                f"<tr><td>{html.escape(v)}</td><td>{c['fills']}</td><td>{c['notional']:,.2f}</td>"
                f"<td>{c['fees']:,.2f}</td><td>{c['gas']:,.2f}</td><td>{c['slippage']:,.2f}</td>"
                f"<td>{c['slippage_bps']:.2f}</td></tr>"
                for v, c in per_venue.items()
            )
            + "</table>"
        )
    curve = wh.con.execute(
        "select bar_time, equity from ml.backtest_equity where run_id = ? order by bar_time", [r["run_id"]]
    ).df()
    if len(curve) >= 2:
        plots.backtest_equity(curve, out / PICTURES[0])
        section.pictures.append((PICTURES[0], "Backtest equity at each bar close, and its drawdown."))
    fills = wh.con.execute(
        "select fill_id, venue, price, amount from ml.backtest_fills where run_id = ?", [r["run_id"]]
    ).df()
    if len(fills):
        plots.fills_per_venue(fills, out / PICTURES[1])
        section.pictures.append((PICTURES[1], "Where the backtest's router sent the flow."))
    return section
