"""One alert: which event, a one-line title, and the figures behind it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kimera.config import ALERT_EVENTS


@dataclass(frozen=True)
class Alert:
    event: str  # one of kimera.config.ALERT_EVENTS
    title: str
    at: float  # epoch seconds, from the sender's clock
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.event not in ALERT_EVENTS:
            raise ValueError(f"alert event {self.event!r} is not one of {', '.join(ALERT_EVENTS)}")

    def payload(self) -> dict[str, Any]:
        """The JSON a webhook receives."""
        at = datetime.fromtimestamp(self.at, UTC).isoformat().replace("+00:00", "Z")
        return {"event": self.event, "title": self.title, "at": at, "details": self.details}

    def text(self) -> str:
        """The message a chat shows: the title, then one line per figure."""
        lines = [f"[kimera] {self.event}: {self.title}"]
        lines += [f"{k}: {v}" for k, v in self.details.items()]
        return "\n".join(lines)
