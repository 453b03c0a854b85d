"""The report: ``KIMERA_HOME/report/index.html`` with PNG plots, drawn from the warehouse and the journal.

Sections: warehouse rows, prices across venues and the DEX, features, model scores beside the
baselines with predicted vs realised and calibration, and paper trading (equity, drawdown, fills
per venue). A section whose data does not exist yet says what is missing and which step makes it;
nothing is ever made up. ``kimera report`` and the demo's last stage build it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from kimera.config import load_config
from kimera.settings import Settings


@dataclass(frozen=True)
class Report:
    path: Path
    pictures: list[Path]
    missing: dict[str, list[str]]  # section key -> what it could not show


def configured_journal(settings: Settings) -> str:
    """The journal the execution service writes: ``execution.journal_url``, else SQLite under KIMERA_HOME."""
    from execution.journal import (
        journal_url,  # execution loads its venues' libraries: only when a report is built
    )

    return journal_url(load_config(settings=settings).execution.journal_url, settings.journal_path)


def build_report(settings: Settings, journal_path: Path | None = None) -> Report:
    """Write ``index.html`` and its pictures under ``settings.report_dir``; return what was written.

    Reads the warehouse read-only and the execution journal (``journal_path``, default the configured
    ``execution.journal_url``: SQLite or PostgreSQL) read-only, so it can run while the demo,
    ``dagster dev`` or the execution service run.
    """
    from kimera.app.report import sections
    from kimera.app.report.accounts import section as accounts_section
    from kimera.app.report.arbitrage_section import section as arbitrage_section
    from kimera.app.report.backtest_section import PICTURES as BACKTEST_PICTURES
    from kimera.app.report.backtest_section import backtest
    from kimera.app.report.data import Journal, Warehouse
    from kimera.app.report.page import render

    out = settings.report_dir
    out.mkdir(parents=True, exist_ok=True)
    for name in (*sections.PICTURES, *BACKTEST_PICTURES):
        (out / name).unlink(missing_ok=True)
    with (
        Warehouse(settings.warehouse_path) as wh,
        Journal(journal_path or configured_journal(settings)) as journal,
    ):
        built = [
            sections.pipeline(wh),
            sections.prices(wh, out),
            sections.features(wh, out),
            sections.models(wh, out),
            sections.paper(journal, out, wh.signal_pushes(), wh.live_signals()),
            accounts_section(journal.reader, out, settings.home_dir),
            arbitrage_section(out),
            backtest(wh, out),
        ]
    page = out / "index.html"
    partial = out / "index.html.partial"
    partial.write_text(render(built, str(settings.home_dir)))
    os.replace(partial, page)  # a reader never sees half a page
    return Report(
        path=page,
        pictures=[out / name for s in built for name, _ in s.pictures],
        missing={s.key: s.missing for s in built if s.missing},
    )
