"""The statement as PDF (fpdf2), landscape A4, the same tables as the HTML page."""

from __future__ import annotations

from fpdf import FPDF
from fpdf.fonts import FontFace

from execution.statements.ledger import Statement
from execution.statements.tables import Table, all_tables, title


def _latin1(text: str) -> str:
    # the PDF's core fonts are Latin-1: anything else (a venue's unusual name) is replaced, not fatal
    return text.encode("latin-1", "replace").decode("latin-1")


def _table(pdf: FPDF, t: Table) -> None:
    pdf.set_font("Helvetica", "B", 10)
    pdf.cell(0, 7, _latin1(t.title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=7 if len(t.columns) > 9 else 8)
    rows = t.rows or [("none", *[""] * (len(t.columns) - 1))]
    with pdf.table(
        headings_style=FontFace(emphasis="BOLD"), text_align="LEFT", line_height=4.5, col_widths=t.widths
    ) as table:
        for row in (t.columns, *rows):
            line = table.row()
            for cell in row:
                line.cell(_latin1(cell))
    if t.note:
        pdf.set_font("Helvetica", "I", 7)
        pdf.multi_cell(0, 4, _latin1(t.note), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)


def render_pdf(st: Statement) -> bytes:
    """The statement as PDF bytes."""
    pdf = FPDF(orientation="L", format="A4")
    pdf.set_creator("Kimera")
    pdf.set_title(_latin1(title(st)))
    pdf.set_auto_page_break(True, margin=12)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(0, 9, _latin1(title(st)), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=8)
    pdf.cell(0, 5, _latin1(f"Journal: {st.journal}"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    for t in all_tables(st):
        _table(pdf, t)
    return bytes(pdf.output())
