"""Statement files under ``KIMERA_HOME/statements/<account>/<day>.{html,pdf}`` and ``kimera statement``."""

from __future__ import annotations

import json
import os
import sys
from datetime import date
from pathlib import Path

from execution.journal_reader import JournalReader
from execution.statements.html import render_html
from execution.statements.ledger import Statement, UnknownAccount, accounts, build_statement
from execution.statements.pdf import render_pdf


def _write_whole(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file, so a reader never sees half a statement."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_statement(st: Statement, folder: Path) -> tuple[Path, Path]:
    """Render ``st`` to ``folder/<account>/<day>.html`` and ``.pdf``; both are rendered before either is written."""
    html, pdf = render_html(st).encode(), render_pdf(st)
    out = folder / st.account
    out.mkdir(parents=True, exist_ok=True)
    html_path, pdf_path = out / f"{st.day.isoformat()}.html", out / f"{st.day.isoformat()}.pdf"
    _write_whole(html_path, html)
    _write_whole(pdf_path, pdf)
    return html_path, pdf_path


def write_statements(
    url: str, day: date, account: str | None, kinds: dict[str, str], folder: Path
) -> list[dict]:
    """Statements of ``day`` for ``account`` (every account of the journal when None); one summary per file pair."""
    reader = JournalReader(url)
    if not reader.exists:
        raise FileNotFoundError(f"no journal at {reader.where}: nothing has traded yet")
    try:
        names = [account] if account is not None else accounts(reader)
        built = [
            build_statement(reader, name, day, kinds) for name in names
        ]  # all or none: fail before writing
    finally:
        reader.close()
    done = []
    for st in built:
        html_path, pdf_path = write_statement(st, folder)
        done.append({"account": st.account, "day": st.day.isoformat(), "fills": len(st.fills),
                     "day_pnl": str(st.day_pnl), "html": str(html_path), "pdf": str(pdf_path)})  # fmt: skip
    return done


def statement_cli(day: date, account: str | None, as_json: bool) -> None:
    """``kimera statement``: write the day's statements of the configured journal; exit 2 on what a user can fix."""
    from execution.audit import default_url
    from execution.reports.costs import venue_kinds
    from kimera.config import load_config
    from kimera.settings import get_settings

    settings = get_settings()
    config = load_config(settings=settings)
    try:
        done = write_statements(
            default_url(), day, account, venue_kinds(config), settings.home_dir / "statements"
        )
    except (FileNotFoundError, UnknownAccount) as exc:
        print(f"statement: {exc}", file=sys.stderr)
        sys.exit(2)
    if as_json:
        print(json.dumps(done))
        return
    for d in done:
        print(
            f"{d['account']} {d['day']}: {d['fills']} fills, day P&L {d['day_pnl']}\n  {d['html']}\n  {d['pdf']}"
        )
