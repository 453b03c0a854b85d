"""Progress of a long step, as a log line the run's event log carries.

A step logs ``progress_message(...)`` as it goes (ingest: once per committed chunk); ``kimera demo``
reads the lines back from the Dagster event stream to drive its progress bars, and the UI shows
them in the run's logs. Any domain may log them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PATTERN = re.compile(r"^progress (\d+)/(\d+) of ([\w./-]+)(?:: (.*))?$")


@dataclass(frozen=True)
class Progress:
    subject: str
    done: int
    total: int
    detail: str


def progress_message(subject: str, done: int, total: int, detail: str = "") -> str:
    """``progress 3/10 of raw.exchange_ohlcv: 1440 rows [...)``: ``done`` of ``total`` units of ``subject``."""
    return f"progress {done}/{total} of {subject}" + (f": {detail}" if detail else "")


def parse_progress(message: str | None) -> Progress | None:
    """The progress a :func:`progress_message` line reports, or None for any other line."""
    match = _PATTERN.match(message or "")
    if match is None:
        return None
    done, total, subject, detail = match.groups()
    return Progress(subject, int(done), int(total), detail or "")
