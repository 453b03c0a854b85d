"""Keeping secrets out of logs: every secret the service holds is registered here and masked.

Venues and the API key store register the secret values they load; :class:`RedactingFilter`, put
on the log handlers (``install``), replaces any of them in a record's message, arguments and
traceback with ``***``. It is the second line of defence: the first is that no code formats a
secret into a message (secrets travel as ``SecretStr``).
"""

from __future__ import annotations

import logging
import threading

MASK = "***"
_MIN_LENGTH = 6  # shorter values would mask ordinary words
_lock = threading.Lock()
_secrets: set[str] = set()


def register(*values: str | None) -> None:
    """Mask these values in every log record from now on."""
    with _lock:
        _secrets.update(v for v in values if v and len(v) >= _MIN_LENGTH)


def redact(text: str) -> str:
    """``text`` with every registered secret replaced by ``***``."""
    with _lock:
        values = sorted(_secrets, key=len, reverse=True)
    for value in values:
        if value in text:
            text = text.replace(value, MASK)
    return text


class RedactingFilter(logging.Filter):
    """Masks registered secrets in the formatted message and the traceback of each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not _secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep the record as it is
            return True
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def install(logger: logging.Logger | None = None) -> RedactingFilter:
    """Put a :class:`RedactingFilter` on every handler of ``logger`` (default: the root logger)."""
    target = logger or logging.getLogger()
    existing = next((f for h in target.handlers for f in h.filters if isinstance(f, RedactingFilter)), None)
    flt = existing or RedactingFilter()
    for handler in target.handlers:
        if flt not in handler.filters:
            handler.addFilter(flt)
    return flt
