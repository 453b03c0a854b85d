"""The report's sections: each reads what it needs and draws it, or says plainly what is missing."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from kimera.app.report.data import BASELINES, Journal, Missing, Warehouse
from kimera.app.report.pnl import equity_curve, summarise
from models import plots

# Every PNG this report writes; removed before a build so a section that lost its data shows no stale picture.
PICTURES = (
    "prices.png",
    "features.png",
    "predicted_vs_realised.png",
    "calibration.png",
    "equity.png",
    "fills.png",
)
MIN_POINTS = 20  # fewer forecasts with an outcome than this make a picture that says nothing


@dataclass
class Section:
    key: str
    title: str
    paragraphs: list[str] = field(default_factory=list)  # HTML, already escaped
    pictures: list[tuple[str, str]] = field(default_factory=list)  # (file name, caption)
    missing: list[str] = field(default_factory=list)

    def lack(self, missing: Missing) -> None:
        self.missing.append(missing.what)


def _table(frame: pd.DataFrame, floats: str = "{:.4g}") -> str:
    """A small HTML table (pandas' ``to_html``, numbers formatted, text escaped)."""
    formatters = {c: floats.format for c in frame.columns if pd.api.types.is_float_dtype(frame[c])}
    formatters |= {c: "{:,}".format for c in frame.columns if pd.api.types.is_integer_dtype(frame[c])}
    formatters |= {
        c: {True: "baseline", False: ""}.get for c in frame.columns if pd.api.types.is_bool_dtype(frame[c])
    }
    return frame.to_html(index=False, border=0, classes="numbers", formatters=formatters, na_rep="–")


def _wide(ic: pd.DataFrame) -> pd.DataFrame:
    wide = ic.pivot_table(index="feature", columns="asset", values="ic")
    wide.columns.name = None
    return wide.reset_index()


def pipeline(wh: Warehouse) -> Section:
    section = Section("pipeline", "Warehouse")
    counts = wh.counts()
    if not counts:
        section.lack(Missing(f"no warehouse at {wh.path}: run `kimera demo` (the ingest stage makes it)"))
        return section
    section.paragraphs.append(f"<p>Rows per table in <code>{html.escape(str(wh.path))}</code>.</p>")
    section.paragraphs.append(_table(pd.DataFrame({"table": list(counts), "rows": list(counts.values())})))
    return section


def prices(wh: Warehouse, out: Path) -> Section:
    section = Section("prices", "Prices across venues and the DEX")
    frame = wh.venue_prices()
    if isinstance(frame, Missing):
        section.lack(frame)
        return section
    if (dex := wh.dex_prices_missing()) is not None:
        section.lack(dex)
    plots.prices(frame, out / "prices.png")
    venues = ", ".join(sorted(frame["venue"].unique()))
    section.pictures.append(
        ("prices.png", f"Hourly closes of every venue and pool ({html.escape(venues)}), and each one's "
         "premium over the median of the centralised venues: the dispersion the router trades on.")
    )  # fmt: skip
    return section


def features(wh: Warehouse, out: Path) -> Section:
    section = Section("features", "Features")
    frame = wh.features()
    if isinstance(frame, Missing):
        section.lack(frame)
        return section
    plots.features(frame, out / "features.png")
    section.pictures.append(("features.png", "A few columns of marts.features over the last 30 days."))
    ic = wh.feature_ic()
    if isinstance(ic, Missing):
        section.lack(ic)
    else:
        section.paragraphs.append(
            "<p>Correlation of each feature with the next bar's log return (all bars; |IC| of a few "
            "hundredths is already a usable signal):</p>"
        )
        section.paragraphs.append(_table(_wide(ic)))
    return section


def models(wh: Warehouse, out: Path) -> Section:
    section = Section("models", "Models: out-of-sample scores, predicted vs realised, calibration")
    scores = wh.evaluations()
    if isinstance(scores, Missing):
        section.lack(scores)
    else:
        section.paragraphs.append(
            "<p>Walk-forward test scores of the newest training run, mean over seeds (baselines first):</p>"
        )
        section.paragraphs.append(_table(scores))
        if "recovery" in scores:
            section.paragraphs.append(
                "<p>bayes_a_star: the simulator's Bayes-optimal accuracy on the same test bars (what the "
                "best possible model expects), oracle_hit: that oracle's realised hit rate; recovery: the "
                "model's edge over a coin as a share of the oracle's, (accuracy − 0.5) / (oracle_hit − 0.5), "
                "averaged over seeds, with its standard error; recovery_of_calls: the same with each call scored by "
                "the oracle's probability of being right (A* in place of oracle_hit), free of label noise.</p>"
            )
    predictions = wh.test_predictions()
    if not isinstance(predictions, Missing):
        served = int((predictions["source"] == "served").sum())
        if served:
            section.paragraphs.append(
                f"<p>{served} predictions of the served model have a realised return so far.</p>"
            )
        # baselines are yardsticks (always up; the last return again): the table has them, the plots don't
        predictions = predictions[~predictions["model"].isin(BASELINES)]
        sizes = predictions.groupby(["source", "model"])["fwd_ret"].transform("size")
        predictions = predictions[sizes >= MIN_POINTS]
        if predictions.empty:
            predictions = Missing(f"no model has {MIN_POINTS} forecasts with a realised return yet")
    if isinstance(predictions, Missing):
        section.lack(predictions)
    else:
        plots.predicted_vs_realised(predictions, out / "predicted_vs_realised.png")
        plots.calibration(predictions, out / "calibration.png")
        section.pictures.append(
            ("predicted_vs_realised.png", "Forecast against the realised forward return, out of sample only.")
        )
        section.pictures.append(
            (
                "calibration.png",
                "P(up) against the share of bars that went up: on the diagonal is calibrated.",
            )
        )
    training = _training_plots(out)
    if training:
        links = "".join(f'<li><a href="{html.escape(p)}">{html.escape(p)}</a></li>' for p in training)
        section.paragraphs.append(
            f"<p>Plots of the newest training run (equity per model and more):</p><ul>{links}</ul>"
        )
    return section


def _training_plots(report_dir: Path) -> list[str]:
    """PNGs the train stage drew for its newest partition (``report/ml/<partition>/``), relative paths."""
    runs = sorted(p for p in (report_dir / "ml").glob("*") if p.is_dir())
    if not runs:
        return []
    return [str(p.relative_to(report_dir)) for p in sorted(runs[-1].glob("*.png"))]


def paper(
    journal: Journal, out: Path, pushes: list[str] | None = None, live: list[str] | None = None
) -> Section:
    section = Section("paper", "Paper trading")
    if pushes:
        section.paragraphs.append(
            f"<p>Signals pushed by the signals asset: {html.escape('; '.join(pushes))}.</p>"
        )
    if live:
        section.paragraphs.append(
            f"<p>Predictions of the live loop (<code>kimera live</code>): {html.escape('; '.join(live))}.</p>"
        )
    fills = journal.fills()
    orders, signals, refusals = (
        journal.orders_by_state(),
        journal.signals_by_outcome(),
        journal.refusals_by_reason(),
    )
    if signals or orders:
        facts = {
            "signals": ", ".join(f"{k} {v}" for k, v in signals.items()) or "none",
            "orders": ", ".join(f"{k} {v}" for k, v in orders.items()) or "none",
            "refusals": ", ".join(f"{k} {v}" for k, v in refusals.items()) or "none",
        }
        section.paragraphs.append(
            "<ul>" + "".join(f"<li><b>{k}</b>: {html.escape(v)}</li>" for k, v in facts.items()) + "</ul>"
        )
    latency = journal.signal_to_ack_ms()
    if len(latency):
        section.paragraphs.append(
            f"<p>Signal to first venue answer: p50 {latency.quantile(0.5):.1f} ms, "
            f"p99 {latency.quantile(0.99):.1f} ms over {len(latency)} signals.</p>"
        )
    if isinstance(fills, Missing):
        section.lack(fills)
        return section
    pnl = summarise(fills)
    section.paragraphs.append(
        f"<p>{pnl.fills} fills, {pnl.notional:,.2f} traded, fees {pnl.fees:,.2f}, P&amp;L {pnl.pnl:+,.2f} "
        f"(marked at each asset's last fill price), largest drawdown {pnl.max_drawdown:,.2f}; positions "
        + html.escape(", ".join(f"{a} {q:+.6g}" for a, q in pnl.positions.items()))
        + ".</p>"
    )
    plots.equity(equity_curve(fills), len(fills), out / "equity.png")
    plots.fills_per_venue(fills, out / "fills.png")
    section.pictures.append(("equity.png", "Equity and drawdown of the paper account, fill by fill."))
    section.pictures.append(("fills.png", "Where the smart order router sent the flow."))
    return section
