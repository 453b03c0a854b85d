"""The service's alerts: a fill, a refusal, a kill-switch change (``kimera.alerts``, config ``alerts:``).

Each is queued for the background sender and returns at once. The newest ``RECENT`` are kept in
memory for the status page (``recent``), whether or not a receiver is configured.
"""

from __future__ import annotations

import time
from collections import deque

from execution.killswitch import SwitchState
from execution.orders import ChildOrder
from execution.risk import Refusal
from execution.venues.base import VenueFill
from kimera.alerts import Alert, from_config
from kimera.config import KimeraConfig
from kimera.settings import Settings

RECENT = 20


class ServiceAlerts:
    def __init__(self, config: KimeraConfig, settings: Settings):
        self.sender = from_config(config, settings)  # a missing signing key or bot token fails the start
        self.recent: deque[Alert] = deque(maxlen=RECENT)

    def _send(self, alert: Alert) -> None:
        self.recent.append(alert)
        if self.sender is not None:
            self.sender.send(alert)

    def start(self) -> None:
        if self.sender is not None:
            self.sender.start()

    def close(self) -> None:
        if self.sender is not None:
            self.sender.close(drain_timeout_s=2.0)

    def fill(self, order: ChildOrder, fill: VenueFill) -> None:
        title = f"{fill.side.value} {fill.amount} {order.asset} on {fill.venue} at {fill.price}"
        self._send(Alert("fill", title, fill.timestamp, {
            "venue": fill.venue, "symbol": fill.symbol, "side": fill.side.value, "amount": str(fill.amount),
            "price": str(fill.price), "fee": str(fill.fee), "client_order_id": fill.client_order_id,
            "signal_id": order.signal_id,
        }))  # fmt: skip

    def refusal(self, refusal: Refusal, asset: str | None = None) -> None:
        self._send(Alert("refusal", f"{refusal.reason}: {refusal.detail}", time.time(),
                         {"reason": refusal.reason, "detail": refusal.detail, "asset": asset}))  # fmt: skip

    def kill_switch(self, state: SwitchState, reason: str) -> None:
        self._send(Alert("kill_switch", f"kill switch {state.value}: {reason}", time.time(),
                         {"state": state.value, "reason": reason}))  # fmt: skip
