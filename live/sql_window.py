"""Moving dbt's compiled one-bar window to another bar.

dbt writes an incremental window into compiled SQL only as ``timestamp '...'`` literals derived
from the window's start, each a whole number of bars from it (``incremental_window`` in
``dbt_project/macros``). Moving every literal by the same whole number of bars gives the SQL dbt
would compile for that bar; ``tests/live/test_sql_window.py`` holds the two equal.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

_LITERAL = re.compile(r"timestamp '(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?)'")


def shift_window(sql: str, by: timedelta) -> str:
    """``sql`` with every ``timestamp '...'`` literal moved by ``by``."""

    def moved(match: re.Match[str]) -> str:
        return f"timestamp '{(datetime.fromisoformat(match.group(1)) + by).isoformat(sep=' ')}'"

    return _LITERAL.sub(moved, sql)
