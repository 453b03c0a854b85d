"""Receivers: a webhook gets the alert's JSON; a Telegram-compatible bot gets ``sendMessage``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from kimera.alerts.alert import Alert


@dataclass(frozen=True)
class Webhook:
    url: str
    events: tuple[str, ...] | None = None

    @property
    def name(self) -> str:
        return f"webhook {self.url}"

    def wants(self, alert: Alert) -> bool:
        return self.events is None or alert.event in self.events

    def request(self, alert: Alert) -> tuple[str, dict[str, Any]]:
        return self.url, alert.payload()


@dataclass(frozen=True)
class TelegramBot:
    base_url: str
    chat_id: str
    token: SecretStr  # part of the URL: the URL is never logged, and SecretStr's repr is masked
    events: tuple[str, ...] | None = None

    @property
    def name(self) -> str:
        return "telegram bot"  # never the URL: it holds the token

    def wants(self, alert: Alert) -> bool:
        return self.events is None or alert.event in self.events

    def request(self, alert: Alert) -> tuple[str, dict[str, Any]]:
        url = f"{self.base_url}/bot{self.token.get_secret_value()}/sendMessage"
        return url, {"chat_id": self.chat_id, "text": alert.text(), "disable_web_page_preview": True}
