"""Bounded retries with exponential backoff that honour a server's ``Retry-After``.

Live sources wrap every network call in :func:`call_with_retries` (or :func:`acall_with_retries`
for asyncio). A failure that retrying cannot fix (a bad symbol, a bad request) is raised at once;
a transient one (timeout, 5xx, 429/418) is retried up to ``RetryConfig.attempts`` times, waiting
``backoff_s * 2**n`` (capped) or the server's ``Retry-After`` when that is longer. When the tries
are spent, or the server asks for a wait longer than ``max_retry_after_s``, :class:`SourceUnavailable`
is raised naming the call, the tries and the last cause, with secrets masked.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    RetryError,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
)

from kimera.config import RetryConfig

log = logging.getLogger(__name__)
T = TypeVar("T")


class SourceUnavailable(RuntimeError):
    """A live source stayed unreachable after bounded retries; the message names the cause."""


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every non-empty secret replaced by ``***`` (URLs with API keys, keys)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


class _Policy:
    """The tenacity pieces shared by the sync and async callers."""

    def __init__(
        self,
        config: RetryConfig,
        retryable: Callable[[BaseException], bool],
        retry_after: Callable[[BaseException], float | None],
        what: str,
        secrets: Iterable[str | None],
    ) -> None:
        self.config = config
        self.retryable = retryable
        self.retry_after = retry_after
        self.what = what
        self.secrets = list(secrets)
        self.too_long: float | None = None

    def should_retry(self, exc: BaseException) -> bool:
        if not self.retryable(exc):
            return False
        asked = self.retry_after(exc)
        if asked is not None and asked > self.config.max_retry_after_s:
            self.too_long = asked
            return False
        return True

    def wait(self, state: RetryCallState) -> float:
        backoff = min(self.config.max_backoff_s, self.config.backoff_s * 2 ** (state.attempt_number - 1))
        exc = state.outcome.exception() if state.outcome else None
        asked = self.retry_after(exc) if exc is not None else None
        return max(backoff, asked or 0.0)

    def before_sleep(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning(
            "%s failed (attempt %d of %d: %s); retrying in %.1f s",
            self.what,
            state.attempt_number,
            self.config.attempts,
            self.describe(exc),
            wait,
        )

    def describe(self, exc: BaseException | None) -> str:
        if exc is None:
            return "no error"
        return redact(f"{type(exc).__name__}: {exc}", self.secrets)[:500]

    def give_up(self, exc: BaseException, attempts: int, started: float) -> SourceUnavailable:
        elapsed = time.monotonic() - started
        if self.too_long is not None:
            head = (
                f"{self.what}: the server asked to retry after {self.too_long:.0f} s, longer than "
                f"retry.max_retry_after_s={self.config.max_retry_after_s:.0f} s"
            )
        else:
            head = f"{self.what}: unreachable after {attempts} attempt(s) over {elapsed:.1f} s"
        return SourceUnavailable(f"{head}; last error: {self.describe(exc)}")

    def tenacity_kwargs(self) -> dict[str, Any]:
        return {
            "stop": stop_after_attempt(self.config.attempts),
            "wait": self.wait,
            "retry": retry_if_exception(self.should_retry),
            "before_sleep": self.before_sleep,
            "reraise": False,
        }


def _unwrap(error: RetryError) -> BaseException:
    exc = error.last_attempt.exception()
    return exc if exc is not None else error


def call_with_retries(
    fn: Callable[[], T],
    *,
    config: RetryConfig,
    what: str,
    retryable: Callable[[BaseException], bool],
    retry_after: Callable[[BaseException], float | None] = lambda exc: None,
    secrets: Iterable[str | None] = (),
) -> T:
    """``fn()``, retried on transient errors; raises SourceUnavailable when retries are spent.

    Errors for which ``retryable`` is false propagate unchanged on the first try.
    """
    policy = _Policy(config, retryable, retry_after, what, secrets)
    started = time.monotonic()
    attempts = 0

    def attempt() -> T:
        nonlocal attempts
        attempts += 1
        return fn()

    try:
        return Retrying(**policy.tenacity_kwargs())(attempt)
    except RetryError as error:
        raise policy.give_up(_unwrap(error), attempts, started) from _unwrap(error)
    except Exception as exc:
        if policy.too_long is not None:  # retryable, but the server asked for too long a wait
            raise policy.give_up(exc, attempts, started) from exc
        raise


async def acall_with_retries(
    fn: Callable[[], Awaitable[T]],
    *,
    config: RetryConfig,
    what: str,
    retryable: Callable[[BaseException], bool],
    retry_after: Callable[[BaseException], float | None] = lambda exc: None,
    secrets: Iterable[str | None] = (),
) -> T:
    """The asyncio twin of :func:`call_with_retries`."""
    policy = _Policy(config, retryable, retry_after, what, secrets)
    started = time.monotonic()
    attempts = 0

    async def attempt() -> T:
        nonlocal attempts
        attempts += 1
        return await fn()

    try:
        return await AsyncRetrying(**policy.tenacity_kwargs())(attempt)
    except RetryError as error:
        raise policy.give_up(_unwrap(error), attempts, started) from _unwrap(error)
    except Exception as exc:
        if policy.too_long is not None:
            raise policy.give_up(exc, attempts, started) from exc
        raise
