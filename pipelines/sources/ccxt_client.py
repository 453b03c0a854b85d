"""Building ccxt (REST) and ccxt.pro (websocket) exchanges from a venue's config.

One place decides how Kimera talks to an exchange: its id checked against ccxt's list, public
access without keys (keys only from secrets), ccxt's rate limiter, a timeout, spot markets only by
default, and optionally every API host routed through ``api_base``. The REST source, the stream
and (later) the execution venues all build their clients here, so they behave alike.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import ccxt

from kimera.config import CcxtVenue, ConfigError, RetryConfig
from kimera.settings import Settings, get_settings
from pipelines.sources.retry import retry_after_seconds


class UnknownSymbol(ConfigError):
    """A symbol the exchange does not list; the message names the closest ones it does."""


def closest(name: str, candidates: list[str], n: int = 5) -> list[str]:
    """The ``n`` candidates closest to ``name`` (case-insensitive), best first."""
    lowered = {c.lower(): c for c in candidates}
    matches = difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.4)
    return [lowered[m] for m in matches]


def check_exchange_id(exchange_id: str) -> None:
    """Raise ConfigError naming the closest ccxt ids when ``exchange_id`` is not one of ccxt's."""
    if exchange_id in ccxt.exchanges:
        return
    near = closest(exchange_id, list(ccxt.exchanges))
    hint = f"closest: {', '.join(near)}" if near else "see ccxt.exchanges for the full list"
    raise ConfigError(
        f"exchange.ccxt_venues: {exchange_id!r} is not a ccxt exchange id; {hint} "
        f"({len(ccxt.exchanges)} ids are accepted)"
    )


def _rewrite_url(url: str, base: str) -> str:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return url
    target = urlsplit(base.rstrip("/"))
    scheme = target.scheme
    if parts.scheme in ("ws", "wss"):
        scheme = {"http": "ws", "https": "wss"}.get(target.scheme, target.scheme)
    rebuilt = f"{scheme}://{target.netloc}{target.path}/{parts.hostname}{parts.path}"
    return rebuilt + (f"?{parts.query}" if parts.query else "")


def rewrite_api_hosts(api: Any, base: str) -> Any:
    """``urls['api']`` with every URL sent to ``<base>/<original host><original path>``.

    The original host stays in the path so one gateway (or the offline test exchange) can tell the
    exchange's hosts apart; websocket URLs keep a websocket scheme.
    """
    if isinstance(api, str):
        return _rewrite_url(api, base)
    if isinstance(api, Mapping):
        return {key: rewrite_api_hosts(value, base) for key, value in api.items()}
    if isinstance(api, list):
        return [rewrite_api_hosts(value, base) for value in api]
    return api


def credentials(venue: CcxtVenue, settings: Settings | None = None) -> dict[str, str]:
    """apiKey/secret/password for ``venue`` from secrets; empty for public data."""
    settings = settings or get_settings()
    found: dict[str, str] = {}
    for field, name in (("apiKey", "api_key"), ("secret", "secret"), ("password", "password")):
        value = settings.secret(f"{venue.venue}_{name}")
        if value is not None:
            found[field] = value.get_secret_value()
    return found


def _spot_only(options: dict[str, Any], defaults: Mapping[str, Any]) -> None:
    """Load spot markets only unless the user chose: faster, and no geo-blocked futures hosts."""
    if "fetchMarkets" in options:
        return
    current = defaults.get("fetchMarkets")
    if isinstance(current, Mapping) and "types" in current:
        options["fetchMarkets"] = {**current, "types": ["spot"]}
    elif isinstance(current, list):
        options["fetchMarkets"] = ["spot"]


def build_exchange(
    venue: CcxtVenue,
    retry: RetryConfig,
    *,
    pro: bool = False,
    settings: Settings | None = None,
) -> Any:
    """A configured ccxt exchange for ``venue`` (``pro=True``: the asyncio ccxt.pro class)."""
    check_exchange_id(venue.exchange)
    if pro:
        import ccxt.pro as ccxtpro

        if venue.exchange not in ccxtpro.exchanges:
            raise ConfigError(
                f"exchange.ccxt_venues: {venue.exchange!r} has no websocket support in ccxt.pro; "
                f"streaming works with: {', '.join(closest(venue.exchange, list(ccxtpro.exchanges)))} ..."
            )
        cls = getattr(ccxtpro, venue.exchange)
    else:
        cls = getattr(ccxt, venue.exchange)
    options = dict(venue.options)
    _spot_only(options, getattr(ccxt, venue.exchange)().options)
    if pro and venue.exchange.startswith("binance"):
        # REST trades are aggregate trades: stream the same ids, so a backfill de-duplicates exactly
        options.setdefault("watchTradesForSymbols", {"name": "aggTrade"})
    exchange = cls(
        {
            "enableRateLimit": venue.rate_limit,
            "timeout": int(retry.timeout_s * 1000),
            "options": options,
            **credentials(venue, settings),
        }
    )
    if venue.sandbox:
        exchange.set_sandbox_mode(True)
    if venue.api_base:
        exchange.urls["api"] = rewrite_api_hosts(exchange.urls["api"], venue.api_base)
    return exchange


def is_transient(exc: BaseException) -> bool:
    """Trouble worth retrying: timeouts, 5xx, 429/418, dropped connections, garbled answers.

    ccxt's ``OperationFailed`` is exactly its family of "may succeed if tried again" errors; bad
    symbols, bad requests and authentication errors are ``ExchangeError`` and fail at once.
    """
    return isinstance(exc, ccxt.OperationFailed)


def retry_after_of(exchange: Any):
    """A function giving the Retry-After of the exchange's last response (ccxt ignores it)."""

    def retry_after(exc: BaseException) -> float | None:
        if not isinstance(exc, ccxt.DDoSProtection | ccxt.RateLimitExceeded):
            return None
        return retry_after_seconds(getattr(exchange, "last_response_headers", None))

    return retry_after


def secrets_of(exchange: Any) -> list[str | None]:
    """Values to mask in any message about this exchange."""
    return [getattr(exchange, name, None) for name in ("apiKey", "secret", "password")]


def venue_symbol(venue: CcxtVenue, asset_symbol: str, quote: str) -> str:
    """The unified symbol this venue trades for an asset: its ``symbols`` entry, else ``ASSET/QUOTE``
    with the venue's ``quote`` when set, else the asset's."""
    return venue.symbols.get(asset_symbol, f"{asset_symbol}/{venue.quote or quote}")


def check_symbol(exchange: Any, symbol: str) -> None:
    """Raise UnknownSymbol naming the closest listed symbols when ``symbol`` is not on the exchange."""
    symbols = list(exchange.symbols or [])
    if symbol in symbols:
        return
    near = closest(symbol, symbols)
    hint = f"closest: {', '.join(near)}" if near else f"it lists {len(symbols)} symbols"
    raise UnknownSymbol(
        f"{exchange.id} does not list {symbol!r}; {hint}. Set the venue's symbols: {{ASSET: SYMBOL}} "
        f"in exchange.ccxt_venues to map an asset to the symbol this exchange uses"
    )
