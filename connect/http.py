"""What every venue family reads from an HTTP answer the same way: ``Retry-After``."""

from __future__ import annotations

import email.utils
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any


def retry_after_seconds(headers: Mapping[str, Any] | None, now: datetime | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait (delta-seconds or an HTTP date), or None.

    The header name is matched case-insensitively (ccxt and httpx spell it differently).
    """
    if not headers:
        return None
    try:
        value = next((v for k, v in headers.items() if str(k).lower() == "retry-after"), None)
    except AttributeError:
        return None
    if value is None:
        return None
    value = str(value).strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
