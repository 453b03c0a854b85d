"""The status page's HTML: server-rendered from a snapshot, refreshing itself, readable at a phone's width.

The only script registers the service worker (``execution.status.pwa``); the page works without it."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any

from execution.status.pwa import HEAD

REFRESH_S = 2
_CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { margin: 0 0 0.2em; } .when { color: #666; margin: 0 0 1em; }
.switch { display: inline-block; padding: 0.3em 0.8em; border-radius: 4px; font-weight: bold; color: #fff; }
.ACTIVE { background: #2a8a3a; } .REDUCING { background: #c78a00; } .HALTED { background: #c0392b; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(560px, 100%), 1fr)); gap: 1.2em; }
.grid > div, .wide { overflow-x: auto; min-width: 0; }
#controls { display: inline-block; padding: 0.6em 1em; border: 1px solid #999; border-radius: 6px; }
@media (max-width: 600px) {
  body { margin: 0.8em; } h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin: 0.6em 0 0.3em; }
  td, th { padding: 0.3em 0.4em; } .switch { font-size: 1.2em; }
  table.cards tr:first-child { display: none; }
  table.cards tr { display: block; border-bottom: 2px solid #ddd; padding: 0.3em 0; }
  table.cards td { display: flex; justify-content: space-between; gap: 1em; border: 0; text-align: right;
                   overflow-wrap: anywhere; }
  table.cards td::before { content: attr(data-label); font-weight: 600; color: #555; text-align: left; }
}
table { border-collapse: collapse; width: 100%; } td, th { padding: 0.2em 0.6em; border-bottom: 1px solid #eee; }
th { text-align: left; background: #f6f6f6; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
.empty { color: #888; font-style: italic; }
"""


def _e(value: Any) -> str:
    return "–" if value is None or value == "" else html.escape(str(value))


def _table(section: str, headers: list[str], rows: list[list[Any]], numeric: set[int]) -> str:
    if not rows:
        return f'<table id="{section}"><tr><td class="empty">none yet</td></tr></table>'
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    labels = [
        html.escape(h, quote=True) for h in headers
    ]  # a phone shows each row as a card of labelled cells
    body = "".join(
        "<tr>" + "".join(f'<td class="n" data-label="{labels[i]}">{_e(v)}</td>' if i in numeric else f'<td data-label="{labels[i]}">{_e(v)}</td>' for i, v in enumerate(r)) + "</tr>"
        for r in rows
    )  # fmt: skip
    cards = ' class="cards"' if len(headers) > 3 else ""
    return f'<table id="{section}"{cards}><tr>{head}</tr>{body}</table>'


def render(snap: dict[str, Any]) -> str:
    switch = snap["kill_switch"]
    when = datetime.fromtimestamp(snap["at"], UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    pnl = snap["pnl"]
    pnl_rows = [[k, v] for k, v in pnl.items()]
    positions = [
        [p["asset"], p["quantity"], p["average_price"], p["mark"], p["realised"], p["unrealised"], p["fees"], p["fills"]]
        for p in snap["positions"]
    ]  # fmt: skip
    orders = [
        [o["client_order_id"], o["venue"], o["symbol"], o["side"], o["amount"], o["filled"], o["average_price"],
         o["state"], o["model_tag"]]
        for o in snap["recent_orders"]
    ]  # fmt: skip
    latency = [[s, v["count"], v["p50_ms"], v["p99_ms"]] for s, v in snap["latency_ms"].items()]
    alerts = [[datetime.fromtimestamp(a["at"], UTC).strftime("%H:%M:%S"), a["event"], a["title"]]
              for a in snap.get("alerts", [])]  # fmt: skip
    counts = [[k, v] for k, v in snap["orders_by_state"].items()]
    refusals = [[k, v] for k, v in snap["refusals_by_reason"].items()]
    reason = f" — {_e(switch['reason'])}" if switch["reason"] else ""
    anchor = _checkpoint(snap.get("audit_checkpoint"))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="{REFRESH_S}">
{HEAD}
<title>Kimera execution status</title><style>{_CSS}</style></head><body>
<h1>Kimera execution</h1>
<p class="when">{when} · {"running" if snap["started"] else "starting"} · {snap["signals"]} signals ·
{snap["live_orders"]} live orders · refreshes every {REFRESH_S} s</p>
<p>Kill switch: <span id="kill-switch" class="switch {_e(switch["state"])}">{_e(switch["state"])}</span>{reason}</p>
{anchor}
<p><a id="controls" href="/status/controls">Controls</a> (kill switch, risk limits; a second factor opens them)</p>
<div class="grid">
<div><h2>P&amp;L</h2>{_table("pnl", ["", "quote"], pnl_rows, {1})}</div>
<div><h2>Positions</h2>{_table("positions", ["asset", "quantity", "avg price", "mark", "realised", "unrealised", "fees", "fills"], positions, {1, 2, 3, 4, 5, 6, 7})}</div>
<div><h2>Alerts</h2>{_table("alerts", ["time", "event", "what"], alerts, set())}</div>
<div><h2>Latency</h2>{_table("latency", ["stage", "count", "p50 ≤ ms", "p99 ≤ ms"], latency, {1, 2, 3})}</div>
<div><h2>Orders by state</h2>{_table("order-states", ["state", "orders"], counts, {1})}
<h2>Refusals</h2>{_table("refusals", ["reason", "count"], refusals, {1})}</div>
</div>
<h2>Newest orders</h2><div class="wide">{_table("orders", ["client order id", "venue", "symbol", "side", "amount", "filled", "avg price", "state", "model"], orders, {4, 5, 6})}</div>
</body></html>"""


def _checkpoint(cp: dict[str, Any] | None) -> str:
    """The audit chain's newest signed checkpoint: what to compare with `kimera audit verify --public-key`."""
    if cp is None:
        return '<p id="audit-checkpoint" class="empty">Audit checkpoints: none signed (no audit_checkpoint_key)</p>'
    when = datetime.fromtimestamp(cp["at_ms"] / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return (
        f'<p id="audit-checkpoint">Audit anchored: entry {_e(cp["seq"])} hash <code>{_e(cp["hash"][:16])}…</code> '
        f"({_e(cp['reason'])}, {when}) signed ML-DSA-65 by key {_e(cp['key'])} in {_e(cp['file'])}</p>"
    )
