"""The statement as one self-contained HTML page (no scripts, no external files)."""

from __future__ import annotations

from html import escape

from execution.statements.ledger import Statement
from execution.statements.tables import Table, all_tables, title

STYLE = """body{font-family:system-ui,sans-serif;margin:2em;color:#111}
table{border-collapse:collapse;margin:.5em 0 1.5em}th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th:first-child,td:first-child{text-align:left}caption{text-align:left;font-weight:600;padding:.3em 0}
p.note{color:#555;font-size:.9em;margin-top:-1em}"""


def _table(t: Table) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in t.columns)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in t.rows)
    if not t.rows:
        body = f'<tr><td colspan="{len(t.columns)}">none</td></tr>'
    note = f'<p class="note">{escape(t.note)}</p>' if t.note else ""
    return f"<table><caption>{escape(t.title)}</caption><tr>{head}</tr>{body}</table>{note}"


def render_html(st: Statement) -> str:
    """The statement's page: title, journal, summary, positions and every fill."""
    tables = "\n".join(_table(t) for t in all_tables(st))
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title(st))}</title>'
        f"<style>{STYLE}</style></head><body><h1>{escape(title(st))}</h1>"
        f"<p>Journal: {escape(st.journal)}</p>\n{tables}\n</body></html>\n"
    )
