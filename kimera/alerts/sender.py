"""The background sender: a bounded queue, one thread, signed requests, retries with backoff.

``send`` never blocks and never raises: when the queue is full the oldest alert is dropped and
counted (``dropped``), so a flood of fills can slow alerts down but never trading. Each request is
signed: ``X-Kimera-Timestamp`` (epoch seconds) and ``X-Kimera-Signature: sha256=<hex>``, the
HMAC-SHA256 of ``<timestamp>.<body>`` under the signing secret (``verify_signature`` checks one).
Connection errors, timeouts, 429 and 5xx are retried with exponential backoff up to
``max_attempts``; other answers count as ``failed``. Secrets (the signing key, a bot token in a URL)
never reach a log line, an exception text or a repr.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
from collections import deque
from dataclasses import dataclass, field

import httpx
from pydantic import SecretStr
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from kimera.alerts.alert import Alert
from kimera.alerts.channels import TelegramBot, Webhook
from kimera.config import ConfigError, KimeraConfig
from kimera.settings import Settings

log = logging.getLogger("kimera.alerts")
MASK = "***"


class _Transient(Exception):
    """Worth another try: the receiver was unreachable, slow, busy (429) or failing (5xx)."""


class _Stopped(Exception):
    """The sender was closed while waiting to retry."""


def signature(key: SecretStr, timestamp: str, body: bytes) -> str:
    mac = hmac.new(key.get_secret_value().encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify_signature(key: SecretStr, timestamp: str, body: bytes, header: str) -> bool:
    """Whether ``header`` (``X-Kimera-Signature``) signs ``body`` sent at ``timestamp`` under ``key``."""
    return hmac.compare_digest(signature(key, timestamp, body), header)


class _MaskSecrets(logging.Filter):
    """Masks the given values in records of a library logger (httpx logs every URL it requests)."""

    def __init__(self, values: list[str]):
        super().__init__()
        self.values = [v for v in values if v]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(v in message for v in self.values):
            for v in self.values:
                message = message.replace(v, MASK)
            record.msg, record.args = message, None
        return True


@dataclass
class SenderStats:
    sent: int = 0
    failed: int = 0
    dropped: int = 0
    retries: int = 0
    by_event: dict[str, int] = field(default_factory=dict)


class AlertSender:
    """Sends alerts to ``channels`` from a background thread; see the module docstring."""

    def __init__(
        self,
        channels: list[Webhook | TelegramBot],
        signing_key: SecretStr,
        queue_size: int = 1000,
        max_attempts: int = 5,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 30.0,
        timeout_s: float = 5.0,
    ):
        self.channels = channels
        self._key = signing_key
        self.queue: deque[Alert] = deque()
        self.queue_size = queue_size
        self.max_attempts, self.backoff_base_s, self.backoff_max_s = (
            max_attempts,
            backoff_base_s,
            backoff_max_s,
        )
        self.timeout_s = timeout_s
        self.stats = SenderStats()
        self._cond = threading.Condition()
        self._busy = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        secrets = [signing_key.get_secret_value()]
        secrets += [c.token.get_secret_value() for c in channels if isinstance(c, TelegramBot)]
        self._mask = _MaskSecrets(secrets)

    def __repr__(self) -> str:
        names = [c.name for c in self.channels]
        return f"AlertSender(channels={names}, queued={len(self.queue)}, stats={self.stats})"

    # --- the caller's side: never blocks -------------------------------------------------------
    def send(self, alert: Alert) -> None:
        """Queue ``alert`` (dropping the oldest one when the queue is full); returns at once."""
        with self._cond:
            if len(self.queue) >= self.queue_size:
                self.queue.popleft()
                self.stats.dropped += 1
            self.queue.append(alert)
            self._cond.notify()

    def start(self) -> AlertSender:
        for name in ("httpx", "httpcore"):
            logging.getLogger(name).addFilter(self._mask)
        self._thread = threading.Thread(target=self._run, name="kimera-alerts", daemon=True)
        self._thread.start()
        return self

    def flush(self, timeout_s: float) -> bool:
        """Wait until every queued alert was sent or given up (True), or ``timeout_s`` passed (False)."""
        with self._cond:
            return self._cond.wait_for(lambda: not self.queue and not self._busy, timeout=timeout_s)

    def close(self, drain_timeout_s: float = 5.0) -> None:
        """Send what is queued (for at most ``drain_timeout_s``), then stop the thread."""
        if self._thread is None:
            return
        self.flush(drain_timeout_s)
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        self._thread.join(timeout=self.timeout_s + 5)
        self._thread = None
        for name in ("httpx", "httpcore"):
            logging.getLogger(name).removeFilter(self._mask)

    def __enter__(self) -> AlertSender:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # --- the thread's side ----------------------------------------------------------------------
    def _run(self) -> None:
        with httpx.Client(timeout=self.timeout_s) as client:
            while True:
                with self._cond:
                    self._cond.wait_for(lambda: self.queue or self._stop.is_set())
                    if self._stop.is_set():
                        return
                    alert = self.queue.popleft()
                    self._busy = True
                try:
                    for channel in self.channels:
                        if channel.wants(alert):
                            self._deliver(client, channel, alert)
                finally:
                    with self._cond:
                        self._busy = False
                        if not self.queue:  # only a drained queue interests flush(): wake no one before
                            self._cond.notify_all()

    def _deliver(self, client: httpx.Client, channel: Webhook | TelegramBot, alert: Alert) -> None:
        url, payload = channel.request(alert)
        body = json.dumps(payload, sort_keys=True, default=str).encode()
        retrying = Retrying(
            stop=stop_after_attempt(self.max_attempts),
            wait=wait_exponential(multiplier=self.backoff_base_s, max=self.backoff_max_s),
            retry=retry_if_exception_type(_Transient),
            sleep=self._sleep,
            before_sleep=lambda _: self._count_retry(),
            reraise=True,
        )
        try:
            retrying(self._post, client, url, body, alert.event)
        except _Stopped:
            self.stats.failed += 1
            log.warning("alert %s to %s: not sent, the sender was closed", alert.event, channel.name)
        except _Transient as exc:
            self.stats.failed += 1
            log.warning("alert %s to %s: gave up after %d attempts (%s)", alert.event, channel.name,
                        self.max_attempts, exc)  # fmt: skip
        except Exception as exc:  # a refused request (4xx): retrying would not help
            self.stats.failed += 1
            log.warning("alert %s to %s: %s", alert.event, channel.name, self._safe(str(exc)))
        else:
            self.stats.sent += 1
            self.stats.by_event[alert.event] = self.stats.by_event.get(alert.event, 0) + 1

    def _post(self, client: httpx.Client, url: str, body: bytes, event: str) -> None:
        timestamp = f"{_now():.3f}"
        headers = {
            "content-type": "application/json",
            "x-kimera-event": event,
            "x-kimera-timestamp": timestamp,
            "x-kimera-signature": signature(self._key, timestamp, body),
        }
        try:
            answer = client.post(url, content=body, headers=headers)
        except httpx.TransportError as exc:  # no URL in the text: it may hold a bot token
            raise _Transient(type(exc).__name__) from None
        if answer.status_code == 429 or answer.status_code >= 500:
            raise _Transient(f"HTTP {answer.status_code}")
        if answer.status_code >= 400:
            raise RuntimeError(f"refused with HTTP {answer.status_code}")

    def _sleep(self, seconds: float) -> None:
        if self._stop.wait(seconds):
            raise _Stopped

    def _count_retry(self) -> None:
        self.stats.retries += 1

    def _safe(self, text: str) -> str:
        for value in self._mask.values:
            text = text.replace(value, MASK)
        return text


def _now() -> float:
    import time

    return time.time()  # the signature's timestamp is wall time by definition: receivers compare it to theirs


def from_config(config: KimeraConfig, settings: Settings) -> AlertSender | None:
    """The sender ``config.alerts`` describes (not started), or None when no receiver is configured.

    Raises ``ConfigError`` naming the missing secret when the signing key or a bot token is not set.
    """
    cfg = config.alerts
    if not cfg.enabled:
        return None

    def secret(name: str, what: str) -> SecretStr:
        value = settings.secret(name)
        if value is None:
            raise ConfigError(
                f"alerts: {what} is the secret {name!r}, which is not set "
                f"(KIMERA_SECRET_{name.upper()} or a file {name} in KIMERA_SECRETS_DIR)"
            )
        return value

    key = secret(cfg.signing_secret, "the signing key")
    channels: list[Webhook | TelegramBot] = [
        Webhook(w.url, tuple(w.events) if w.events is not None else None) for w in cfg.webhooks
    ]
    if cfg.telegram is not None:
        t = cfg.telegram
        channels.append(TelegramBot(t.url, t.chat_id, secret(t.token_secret, "the bot token"),
                                    tuple(t.events) if t.events is not None else None))  # fmt: skip
    return AlertSender(channels, key, cfg.queue_size, cfg.max_attempts, cfg.backoff_base_s, cfg.backoff_max_s,
                       cfg.timeout_s)  # fmt: skip
