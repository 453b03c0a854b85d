"""The report's "Accounts and followers": per account, strategy and follower the figures the
execution service serves at ``GET /accounts`` (return, Sharpe, drawdown, tracking error to the
leader), the orders and fills its journal partition holds, and links to the daily statements.

The figures are marked in the service's memory, so the report reads the snapshot a caller saved
(:data:`SNAPSHOT`, written by the demo's report stage while its service runs); the orders and fills
come from the journal, so they are current whenever the report is built.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

from kimera.app.report import snapshots

SNAPSHOT = "accounts.json"  # under the report folder: the last ``GET /accounts`` answer


def save_snapshot(report_dir: Path, summary: dict[str, Any]) -> Path:
    """Keep ``summary`` (a ``GET /accounts`` answer) beside the report, written whole."""
    return snapshots.save(report_dir, SNAPSHOT, summary)


def load_snapshot(report_dir: Path) -> dict[str, Any] | None:
    return snapshots.load(report_dir, SNAPSHOT)


def activity(reader: Any) -> dict[tuple[str, str], tuple[int, int]]:
    """Orders and fills per (account, book) in the journal's account partition (a ``JournalReader``)."""
    if reader.con is None or not reader.has_table("account_orders"):
        return {}
    orders = reader.rows("SELECT account, book, count(*) FROM account_orders GROUP BY account, book")
    fills = reader.rows(
        "SELECT o.account, o.book, count(*) FROM account_fills f "
        "JOIN account_orders o ON o.client_order_id = f.client_order_id GROUP BY o.account, o.book"
    )
    out: dict[tuple[str, str], tuple[int, int]] = {(a, b): (n, 0) for a, b, n in orders}
    for a, b, n in fills:
        out[(a, b)] = (out.get((a, b), (0, 0))[0], n)
    return out


def rows(summary: dict[str, Any], counts: dict[tuple[str, str], tuple[int, int]]) -> list[dict[str, Any]]:
    """One row per account, strategy and follower: who, figures, orders and fills."""

    def total(account: str, book: str | None = None) -> tuple[int, int]:
        picked = [v for (a, b), v in counts.items() if a == account and (book is None or b == book)]
        return sum(o for o, _ in picked), sum(f for _, f in picked)

    out = []
    for name, a in summary.get("accounts", {}).items():
        out.append({"kind": "account", "name": name, "of": "", "state": a.get("state", ""), **_figures(a), "tracking_error": None,
                    **dict(zip(("orders", "fills"), total(name), strict=True))})  # fmt: skip
    for name, s in summary.get("strategies", {}).items():
        out.append({"kind": "strategy", "name": name, "of": s["account"], **_figures(s), "tracking_error": None,
                    **dict(zip(("orders", "fills"), total(s["account"], name), strict=True))})  # fmt: skip
    for f in summary.get("followers", []):
        book = f"copy:{f['leader']}"
        out.append({"kind": "follower", "name": f["follower"], "of": f"{f['leader_kind']} {f['leader']} ({f['rule']})",
                    **_figures(f), "tracking_error": f.get("tracking_error"),
                    **dict(zip(("orders", "fills"), total(f["follower"], book), strict=True))})  # fmt: skip
    return out


def _figures(d: dict[str, Any]) -> dict[str, Any]:
    return {"return": d.get("return"), "sharpe": d.get("sharpe"), "max_drawdown": d.get("max_drawdown")}


def _pct(x: float | None) -> str:
    return "–" if x is None or not math.isfinite(x) else f"{x * 100:+.3f} %"


def _num(x: float | None) -> str:
    return "–" if x is None or not math.isfinite(x) else f"{x:.3f}"


def line(row: dict[str, Any]) -> str:
    """One summary line: ``follower copier_fixed of account fund (fixed_notional): return ...``."""
    who = f"{row['kind']} {row['name']}" + (f" of {row['of']}" if row["of"] else f" ({row.get('state')})")
    te = f", tracking error {_num(row['tracking_error'])}" if row["kind"] == "follower" else ""
    return (
        f"{who}: return {_pct(row['return'])}, Sharpe {_num(row['sharpe'])}, max drawdown "
        f"{_pct(row['max_drawdown'])}{te}, {row['orders']} orders, {row['fills']} fills"
    )


def statement_links(home: Path, report_dir: Path) -> list[tuple[str, str]]:
    """(account/day, relative link) of every statement ``kimera statement`` wrote under KIMERA_HOME."""
    folder = home / "statements"
    if not folder.exists():
        return []
    found = sorted(folder.glob("*/*.html"))
    return [(f"{p.parent.name} {p.stem}", _relative(p, report_dir)) for p in found]


def _relative(path: Path, start: Path) -> str:
    import os

    return Path(os.path.relpath(path, start)).as_posix()


def section(reader: Any, report_dir: Path, home: Path):
    """The "Accounts and followers" section (kimera.app.report.sections.Section)."""
    from kimera.app.report.data import Missing
    from kimera.app.report.sections import Section

    out = Section("accounts", "Accounts and followers")
    summary = load_snapshot(report_dir)
    if summary is None:
        out.lack(
            Missing(
                f"no accounts snapshot at {report_dir / SNAPSHOT}: the demo saves the service's GET /accounts "
                "there while its service runs (docs/accounts.md)"
            )
        )
        return out
    table = rows(summary, activity(reader))
    head = "".join(
        f"<th>{h}</th>"
        for h in ("", "name", "of", "return", "Sharpe", "max drawdown", "tracking error", "orders", "fills")
    )
    body = "".join(
        "<tr>"
        + "".join(
            f"<td>{html.escape(str(c))}</td>"
            for c in (
                r["kind"],
                r["name"],
                r["of"] or r.get("state", ""),
                _pct(r["return"]),
                _num(r["sharpe"]),
                _pct(r["max_drawdown"]),
                _num(r["tracking_error"]) if r["kind"] == "follower" else "",
                r["orders"],
                r["fills"],
            )
        )  # fmt: skip
        + "</tr>"
        for r in table
    )
    out.paragraphs.append(
        "<p>Per account, strategy and follower, as the execution service's <code>GET /accounts</code> served "
        "them (marked at each signal; tracking error: annualised, to the leader), with the orders and fills "
        "of the journal's account partition.</p>"
        f'<table class="numbers"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
    )
    links = statement_links(home, report_dir)
    if links:
        out.paragraphs.append(
            "<p>Daily statements: "
            + ", ".join(f'<a href="{html.escape(href)}">{html.escape(label)}</a>' for label, href in links)
            + ".</p>"
        )
    else:
        out.paragraphs.append(
            "<p>No daily statements yet: <code>kimera statement --day YYYY-MM-DD</code> writes them "
            "(docs/statements.md).</p>"
        )
    return out
