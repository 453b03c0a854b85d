"""``index.html``: one self-contained page (inline CSS, pictures beside it), readable offline."""

from __future__ import annotations

import html
from datetime import UTC, datetime

from kimera.app.report.sections import Section

_CSS = """
body { font: 15px/1.45 system-ui, sans-serif; max-width: 1180px; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { margin-bottom: 0.1em; } .when { color: #666; margin-top: 0; }
nav a { margin-right: 1em; }
section { border-top: 1px solid #ddd; margin-top: 2em; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.9em; }
.missing { background: #fff6e0; border-left: 4px solid #e0a000; padding: 0.5em 1em; }
table.numbers { border-collapse: collapse; font-size: 0.9em; }
table.numbers td, table.numbers th { padding: 0.2em 0.7em; text-align: right; border-bottom: 1px solid #eee; }
table.numbers td:first-child, table.numbers th:first-child { text-align: left; }
"""


def render(sections: list[Section], home: str) -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    nav = "".join(f'<a href="#{s.key}">{html.escape(s.title.split(":")[0])}</a>' for s in sections)
    body = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8"><title>Kimera report</title>',
        f"<style>{_CSS}</style></head><body>",
        "<h1>Kimera report</h1>",
        f'<p class="when">Built {now} from <code>{html.escape(home)}</code> '
        "(the warehouse and the execution journal; nothing here is made up).</p>",
        f"<nav>{nav}</nav>",
    ]
    for s in sections:
        body.append(f'<section id="{s.key}"><h2>{html.escape(s.title)}</h2>')
        for note in s.missing:
            body.append(f'<p class="missing">Not shown: {html.escape(note)}.</p>')
        body.extend(s.paragraphs)
        for name, caption in s.pictures:
            body.append(
                f'<figure><img src="{html.escape(name)}" alt="{html.escape(caption)}">'
                f"<figcaption>{caption}</figcaption></figure>"
            )
        body.append("</section>")
    body.append("</body></html>")
    return "\n".join(body)
