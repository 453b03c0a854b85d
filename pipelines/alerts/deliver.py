"""Sending from a sensor tick: the alerts go out before the tick ends (a sensor does not trade)."""

from __future__ import annotations

from kimera.alerts import Alert, from_config
from kimera.alerts.sender import SenderStats
from kimera.config import KimeraConfig
from kimera.settings import Settings


def deliver(alerts: list[Alert], config: KimeraConfig, settings: Settings) -> SenderStats | None:
    """Send ``alerts`` to the configured receivers, waiting for them (retries included); None when none is configured."""
    sender = from_config(config, settings)
    if sender is None:
        return None
    a = config.alerts
    budget = a.max_attempts * (a.timeout_s + a.backoff_max_s) + 5
    with sender:
        for alert in alerts:
            sender.send(alert)
        sender.flush(budget)
    return sender.stats
