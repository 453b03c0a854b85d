"""The report's "Cross-chain arbitrage": what the execution service's desk did on the paper chains,
from the ``GET /reports/arbitrage`` answer a caller saved (:data:`SNAPSHOT`, written by the demo's
report stage while its service runs): looks, opportunities seen and taken, the realised net after
fees, gas and the bridge, inventory per chain against its targets, and the bridge plan on paper.

When nothing was taken, the line and the section say why in figures: the widest gap the desk saw
beside the cost floor (fees, gas and bridge at the largest trade) that gap had to clear.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from kimera.app.report import snapshots

SNAPSHOT = "arbitrage.json"  # under the report folder: the last ``GET /reports/arbitrage`` answer


def save_snapshot(report_dir: Path, desk: dict[str, Any]) -> Path:
    """Keep ``desk`` (a ``GET /reports/arbitrage`` answer) beside the report, written whole."""
    return snapshots.save(report_dir, SNAPSHOT, desk)


def load_snapshot(report_dir: Path) -> dict[str, Any] | None:
    return snapshots.load(report_dir, SNAPSHOT)


def bridge_plan(desk: dict[str, Any]) -> str:
    """The rebalancing plan in words: transfers, their cost and when the last lands."""
    plan = desk.get("rebalance") or []
    if not plan:
        return "none (inventory at its targets)"
    cost = sum(t["cost_quote"] for t in plan)
    moves = ", ".join(f"{t['amount']:,.4f} {t['asset']} {t['from_chain']}->{t['to_chain']}" for t in plan)
    lands = max(t["lands_after_s"] for t in plan)
    return f"{len(plan)} transfer(s) on paper ({moves}), cost {cost:,.2f}, landing after {lands:,.0f} s"


def why_none(desk: dict[str, Any]) -> str:
    """``0 taken: best gap X bp < costs Y bp`` with the pair, or what the desk lacked."""
    widest = desk.get("widest_gap")
    if widest is None:
        return "0 taken: the desk never priced pools on two chains"
    return (
        f"0 taken: best gap {widest['gap_bps']:.1f} bp ({widest['asset']} {widest['buy_chain']}->"
        f"{widest['sell_chain']}) < costs {widest['cost_floor_bps']:.1f} bp (both pools' fees, gas on both "
        f"chains and the bridge at {desk['settings']['max_amount']:g} {widest['asset']}; price impact on top)"
    )


def line(desk: dict[str, Any]) -> str:
    """The demo's one summary line for the desk."""
    if not desk.get("enabled", True):
        return "cross-chain arbitrage: the service runs no desk (execution.arbitrage.venues is empty)"
    chains = sorted(set(desk.get("venues", {}).values()))
    head = (
        f"cross-chain arbitrage ({' vs '.join(chains)}, paper): {desk['looks']} looks, "
        f"{desk['opportunities_seen']} opportunities seen, {desk['taken']} taken, "
        f"net P&L {desk['realised_net']:+,.2f} after fees, gas and bridge"
    )
    taken = why_none(desk) if desk["taken"] == 0 else f"bridge plan: {bridge_plan(desk)}"
    return f"{head}; {taken}"


def section(report_dir: Path):
    """The "Cross-chain arbitrage" section (kimera.app.report.sections.Section)."""
    from kimera.app.report.data import Missing
    from kimera.app.report.sections import Section

    out = Section("arbitrage", "Cross-chain arbitrage")
    desk = load_snapshot(report_dir)
    if desk is None or not desk.get("enabled", True):
        out.lack(
            Missing(
                f"no arbitrage snapshot at {report_dir / SNAPSHOT}: the demo saves the service's "
                "GET /reports/arbitrage there while its desk runs (docs/defi.md)"
            )
        )
        return out
    esc = html.escape
    out.paragraphs.append(
        "<p>The execution service's desk (<code>execution/arbitrage_desk.py</code>) on the demo's paper "
        "pools, as <code>GET /reports/arbitrage</code> served it: both legs at once from inventory on "
        "each chain, net of both pools' fees, gas on both chains and the bridge.</p>"
        f"<p>{esc(line(desk))}.</p>"
    )
    cells = [
        ("looks", f"{desk['looks']:,}"),
        ("opportunities seen", f"{desk['opportunities_seen']:,}"),
        ("taken", f"{desk['taken']:,}"),
        ("net P&L after costs", f"{desk['realised_net']:+,.2f}"),
    ]
    if desk.get("widest_gap"):
        w = desk["widest_gap"]
        cells += [
            (f"widest gap, {w['buy_chain']}->{w['sell_chain']} (bp)", f"{w['gap_bps']:.1f}"),
            ("cost floor of that gap (bp)", f"{w['cost_floor_bps']:.1f}"),
        ]
    bridge = desk["settings"]["bridge"]
    cells.append(
        (
            "bridge model",
            f"{bridge['fixed_quote']:g} + {bridge['fee_bps']:g} bp per transfer, {bridge['latency_s']:g} s",
        )
    )
    cells.append(("bridge plan", bridge_plan(desk)))
    out.paragraphs.append(
        '<table class="numbers"><tbody>'
        + "".join(f"<tr><td>{esc(k)}</td><td>{esc(v)}</td></tr>" for k, v in cells)
        + "</tbody></table>"
    )
    rows = "".join(
        f"<tr><td>{esc(chain)}</td><td>{esc(asset)}</td><td>{held:,.4f}</td>"
        f"<td>{desk['targets'].get(chain, {}).get(asset, 0.0):,.4f}</td></tr>"
        for chain, assets in sorted(desk.get("inventory", {}).items())
        for asset, held in sorted(assets.items())
    )
    out.paragraphs.append(
        '<table class="numbers"><thead><tr><th>chain</th><th>asset</th><th>held</th><th>target</th></tr>'
        f"</thead><tbody>{rows}</tbody></table>"
    )
    trades = desk.get("trades") or []
    if trades:

        def net(x: float | None) -> str:
            return "–" if x is None else f"{x:+,.2f}"

        body = "".join(
            f"<tr><td>{esc(t['asset'])}</td><td>{esc(t['legs']['buy']['chain'])}</td>"
            f"<td>{esc(t['legs']['sell']['chain'])}</td><td>{t['amount']:,.4f}</td>"
            f"<td>{esc(t['legs']['buy']['state'])} / {esc(t['legs']['sell']['state'])}</td>"
            f"<td>{net(t['predicted_net'])}</td><td>{net(t['realised_net'])}</td></tr>"
            for t in trades
        )
        out.paragraphs.append(
            '<table class="numbers"><thead><tr><th>asset</th><th>bought on</th><th>sold on</th><th>amount</th>'
            "<th>legs</th><th>predicted net</th><th>realised net</th></tr></thead>"
            f"<tbody>{body}</tbody></table>"
        )
    return out
