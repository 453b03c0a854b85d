"""The demo's last stage: let paper trading settle, build the report, and say what the loop did."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from kimera.app.demo.accounts import fetch_accounts
from kimera.app.demo.context import DemoContext

if TYPE_CHECKING:
    import pandas as pd

SETTLE_S = 45.0  # longest wait for orders (and TWAP slices) in flight before the report reads the journal


def report_stage(ctx: DemoContext) -> list[str]:
    """Build ``KIMERA_HOME/report/index.html``; summary lines: model scores beside the baselines,
    orders, fills, P&L and latency of paper trading, and what the report could not show."""
    # the report's readers load pandas, DuckDB and the models: imported when the stage runs
    from kimera.app.demo.arbitrage import fetch_arbitrage
    from kimera.app.report import build_report, configured_journal
    from kimera.app.report.accounts import activity, line, rows, save_snapshot
    from kimera.app.report.arbitrage_section import line as arbitrage_line
    from kimera.app.report.arbitrage_section import save_snapshot as save_arbitrage
    from kimera.app.report.data import Journal, Missing, Warehouse
    from kimera.app.report.pnl import summarise

    journal_url = configured_journal(ctx.settings)
    settle = ctx.progress.add_task("  orders in flight settle", total=None)
    deadline = time.monotonic() + SETTLE_S
    while ctx.services.started and time.monotonic() < deadline:
        with Journal(journal_url) as journal:
            if journal.live_orders() == 0:
                break
        time.sleep(0.5)
    ctx.progress.update(settle, total=1, completed=1)
    accounts = fetch_accounts(ctx.settings, ctx.config) if ctx.status_url else None
    if isinstance(accounts, dict):  # the service's in-memory figures, kept for the report's section
        save_snapshot(ctx.settings.report_dir, accounts)
    desk = fetch_arbitrage(ctx.settings, ctx.config) if ctx.status_url else None
    if isinstance(desk, dict) and desk.get("enabled"):  # the desk's figures, for its section
        save_arbitrage(ctx.settings.report_dir, desk)
    task = ctx.progress.add_task("  report and plots", total=1)
    report = build_report(ctx.settings)
    ctx.progress.update(task, completed=1)

    lines = [f"report: {report.path.as_uri()} ({len(report.pictures)} plots)"]
    with Warehouse(ctx.settings.warehouse_path) as wh:
        scores, pushes, live = wh.evaluations(), wh.signal_pushes(), wh.live_signals()
    if not isinstance(scores, Missing):
        lines.append("models (walk-forward test, mean over seeds; baselines first):")
        lines += _score_lines(scores)
    with Journal(journal_url) as journal:
        fills, orders, signals = journal.fills(), journal.orders_by_state(), journal.signals_by_outcome()
        latency = journal.signal_to_ack_ms()
    if signals or orders:
        lines.append(
            "paper trading: signals "
            + (", ".join(f"{k} {v}" for k, v in signals.items()) or "none")
            + "; orders "
            + (", ".join(f"{k} {v}" for k, v in orders.items()) or "none")
        )
    if pushes:
        lines.append(f"  signals pushed to the execution service: {'; '.join(pushes)}")
    if live:
        lines.append(f"  predictions of the live loop: {'; '.join(live)}")
    if not isinstance(fills, Missing):
        pnl = summarise(fills)
        lines.append(
            f"  {pnl.fills} fills on {fills['venue'].nunique()} venues, {pnl.notional:,.2f} traded, "
            f"fees {pnl.fees:,.2f}, P&L {pnl.pnl:+,.2f} (marked at the last fill)"
        )
    if len(latency):
        lines.append(
            f"  signal to first venue answer: p50 {latency.quantile(0.5):.1f} ms, "
            f"p99 {latency.quantile(0.99):.1f} ms ({len(latency)} signals)"
        )
    if isinstance(accounts, dict):
        with Journal(journal_url) as journal:
            counts = activity(journal.reader)
        lines.append(
            "accounts and followers (GET /accounts; drawdown is the largest from a peak, tracking error "
            "annualised to the leader; orders and fills from the journal):"
        )
        lines += [f"  {line(row)}" for row in rows(accounts, counts)]
    elif isinstance(accounts, str):
        lines.append(f"  accounts and followers: {accounts}")
    if isinstance(desk, dict):
        lines.append(f"  {arbitrage_line(desk)}")
    elif isinstance(desk, str):
        lines.append(f"  cross-chain arbitrage: {desk}")
    if ctx.status_url:  # the demo stops the service it started; the journal stays
        lines.append(
            "  the service stops with the demo; `kimera execute` carries on from its journal and prints "
            "the URL of its live status page"
        )
    for section, notes in report.missing.items():
        lines += [f"  not in the report ({section}): {note}" for note in notes]
    return lines


def _score_lines(scores: pd.DataFrame) -> list[str]:
    columns = [c for c in ("accuracy", "ic", "log_loss", "brier", "coverage", "sharpe") if c in scores]
    header = f"  {'model':<22}" + "".join(f"{c:>10}" for c in columns)
    rows = [header]
    for _, row in scores.iterrows():
        name = f"{row['model']}{' (base)' if row['baseline'] else ''}"
        rows.append(f"  {name:<22}" + "".join(_cell(row[c]) for c in columns))
    return rows


def _cell(value: float) -> str:
    import pandas as pd  # slow to import: kept off `kimera --help`

    return f"{'–':>10}" if pd.isna(value) else f"{value:>10.4f}"
