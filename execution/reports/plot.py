"""The cost report as files under ``KIMERA_HOME/report/``: a CSV table and a PNG (matplotlib Agg)."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from execution.reports.costs import COLUMNS, FillCost, VenueCosts, cost_table, format_table


def plot_costs(rows: list[VenueCosts], fills: list[FillCost], path: Path) -> Path:
    """Two panels: cost per venue in bps (slippage, fees, gas stacked) and each fill's slippage vs its size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    venues = [r for r in rows if r.venue != "all"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5), constrained_layout=True)
    names = [r.venue for r in venues]
    bottom = [0.0] * len(venues)
    for label, getter, color in (("slippage", lambda r: r.bps(r.slippage), "#4c72b0"),
                                 ("fees", lambda r: r.bps(r.fees), "#dd8452"),
                                 ("gas", lambda r: r.bps(r.gas), "#55a868")):  # fmt: skip
        values = [getter(r) for r in venues]
        left.bar(names, values, bottom=bottom, label=label, color=color)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    left.axhline(0, color="black", linewidth=0.6)
    left.set_ylabel("bps of arrival notional")
    left.set_title("Execution cost per venue")
    left.legend()
    for venue in names:
        mine = [f for f in fills if f.venue == venue]
        right.scatter(
            [float(f.notional) for f in mine], [f.slippage_bps for f in mine], s=14, label=venue, alpha=0.7
        )
    right.axhline(0, color="black", linewidth=0.6)
    right.set_xscale("log" if fills and min(float(f.notional) for f in fills) > 0 else "linear")
    right.set_xlabel("fill notional at arrival (quote)")
    right.set_ylabel("slippage vs arrival (bps)")
    right.set_title("Slippage per fill")
    if names:
        right.legend()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_cost_report(url: str, kinds: dict[str, str], report_dir: Path) -> tuple[str, Path, Path]:
    """Write ``execution_costs.csv`` (per venue), ``execution_fills.csv`` (per fill) and ``execution_costs.png``;
    return the text table and the paths of the venue table and the plot."""
    rows, fills = cost_table(url, kinds)
    report_dir.mkdir(parents=True, exist_ok=True)
    csv_path = report_dir / "execution_costs.csv"
    with csv_path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*COLUMNS, "slippage", "fees", "gas", "ordered_notional"])
        writer.writeheader()
        for r in rows:
            row = r.row()
            writer.writerow({k: row[k] for k in writer.fieldnames})
    with (report_dir / "execution_fills.csv").open("w", newline="") as handle:  # the fills behind the table
        writer = csv.writer(handle)
        writer.writerow(["venue", "kind", "symbol", "side", "amount", "price", "arrival", "slippage", "slippage_bps",
                         "fee"])  # fmt: skip
        for f in fills:
            writer.writerow([f.venue, f.kind, f.symbol, f.side, f.amount, f.price, f.arrival, f.slippage,
                             f"{f.slippage_bps:.4f}", f.fee])  # fmt: skip
    png = plot_costs(rows, fills, report_dir / "execution_costs.png")
    return format_table(rows), csv_path, png


def costs_cli() -> None:
    """``kimera costs``: the cost table of the configured journal, written under KIMERA_HOME/report/."""
    from execution.audit import default_url
    from execution.reports.costs import venue_kinds
    from kimera.config import load_config
    from kimera.settings import get_settings

    settings = get_settings()
    config = load_config(settings=settings)
    url = default_url()
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        print(f"no journal at {url.removeprefix('sqlite:///')}: nothing has traded yet", file=sys.stderr)
        sys.exit(2)
    table, csv_path, png = write_cost_report(url, venue_kinds(config), settings.report_dir)
    print(table)
    print(f"\nwritten: {csv_path}\n         {png}")
