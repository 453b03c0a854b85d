"""Alerts to webhooks and a Telegram-compatible bot, sent in the background so nothing waits on them.

``Alert`` is what happened; ``channels.py`` turns it into each receiver's request; ``sender.py``
queues, signs (HMAC-SHA256), retries with backoff and counts what it drops; ``from_config`` builds
the sender the config (``alerts:``) asks for. Senders: the execution service (fills, refusals,
kill switch), the Dagster sensors of ``pipelines/alerts`` (failed runs, drift, live-loop lag).
"""

from kimera.alerts.alert import Alert
from kimera.alerts.sender import AlertSender, from_config, verify_signature

__all__ = ["Alert", "AlertSender", "from_config", "verify_signature"]
