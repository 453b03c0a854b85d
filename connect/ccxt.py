"""The ccxt venue family: building ccxt (REST), ccxt.pro (websocket) and ccxt asyncio exchanges.

One place decides how Kimera talks to an exchange: its id checked against ccxt's list, public
access without keys (keys only from secrets), ccxt's rate limiter, a timeout, spot markets only by
default, the sandbox when asked, and optionally every API host routed through ``api_base``. The
market-data source and stream (:func:`build_exchange` from a :class:`CcxtMarketData` section) and
execution's trading venue (:func:`build_trading_exchange` from a :class:`CcxtTradingVenue`) build
their clients here, so they behave alike; :func:`is_transient` and :func:`retry_after` read ccxt's
errors the same way for both.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import ccxt
from pydantic import SecretStr

from connect.http import retry_after_seconds
from kimera.config import CcxtMarketData, CcxtTradingVenue, ConfigError, RetryConfig
from kimera.settings import Settings, get_settings


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


def credentials(name: str, settings: Settings | None = None) -> dict[str, SecretStr]:
    """apiKey/secret/password of venue ``name`` from the secrets ``<name>_api_key`` etc.; empty for
    public data."""
    settings = settings or get_settings()
    found: dict[str, SecretStr] = {}
    for field, suffix in (("apiKey", "api_key"), ("secret", "secret"), ("password", "password")):
        value = settings.secret(f"{name}_{suffix}")
        if value is not None:
            found[field] = value
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


def _configure(
    cls: Any, exchange_id: str, *, options: dict[str, Any], rate_limit: bool, timeout_s: float,
    secrets: Mapping[str, SecretStr], sandbox: bool, api_base: str | None, where: str, no_sandbox: str,
) -> Any:  # fmt: skip
    """The exchange of class ``cls`` with Kimera's settings; ``where`` names the config section."""
    _spot_only(options, getattr(ccxt, exchange_id)().options)
    exchange = cls(
        {
            "enableRateLimit": rate_limit,
            "timeout": int(timeout_s * 1000),
            "options": options,
            **{k: v.get_secret_value() for k, v in secrets.items()},
        }
    )
    if sandbox:
        try:
            if not exchange.urls.get("test"):  # ccxt leaves None where an exchange has no test network
                raise ccxt.NotSupported(exchange_id)
            exchange.set_sandbox_mode(True)
        except ccxt.NotSupported:
            raise ConfigError(f"{where}: {exchange_id} has no sandbox in ccxt; {no_sandbox}") from None
    if api_base:
        exchange.urls["api"] = rewrite_api_hosts(exchange.urls["api"], api_base)
    return exchange


def build_exchange(
    venue: CcxtMarketData,
    retry: RetryConfig,
    *,
    pro: bool = False,
    settings: Settings | None = None,
) -> Any:
    """A configured ccxt exchange for market data of ``venue`` (``pro=True``: the asyncio ccxt.pro class)."""
    check_exchange_id(venue.exchange)
    if pro:
        import ccxt.pro as ccxtpro  # loads every websocket exchange: only the stream needs it

        if venue.exchange not in ccxtpro.exchanges:
            raise ConfigError(
                f"exchange.ccxt_venues: {venue.exchange!r} has no websocket support in ccxt.pro; "
                f"streaming works with: {', '.join(closest(venue.exchange, list(ccxtpro.exchanges)))} ..."
            )
        cls = getattr(ccxtpro, venue.exchange)
    else:
        cls = getattr(ccxt, venue.exchange)
    options = dict(venue.options)
    if pro and venue.exchange.startswith("binance"):
        # REST trades are aggregate trades: stream the same ids, so a backfill de-duplicates exactly
        options.setdefault("watchTradesForSymbols", {"name": "aggTrade"})
    return _configure(
        cls, venue.exchange, options=options, rate_limit=venue.rate_limit, timeout_s=retry.timeout_s,
        secrets=credentials(venue.venue, settings), sandbox=venue.sandbox, api_base=venue.api_base,
        where=f"exchange.ccxt_venues: {venue.venue}", no_sandbox="set sandbox: false to read the live exchange",
    )  # fmt: skip


def build_trading_exchange(ref: CcxtTradingVenue, secrets: Mapping[str, SecretStr]) -> Any:
    """The ccxt asyncio exchange to trade on ``ref``: sandbox unless told otherwise, spot markets only."""
    import ccxt.async_support as ccxt_async  # the asyncio classes: only the execution service needs them

    return _configure(
        getattr(ccxt_async, ref.exchange), ref.exchange, options=dict(ref.options), rate_limit=ref.rate_limit,
        timeout_s=ref.timeout_s, secrets=secrets, sandbox=ref.sandbox, api_base=ref.api_base,
        where=f"execution.venues: {ref.name}", no_sandbox="set sandbox: false to trade on the live exchange (real money)",
    )  # fmt: skip


def is_transient(exc: BaseException) -> bool:
    """Trouble worth retrying: timeouts, 5xx, 429/418, dropped connections, garbled answers.

    ccxt's ``OperationFailed`` is exactly its family of "may succeed if tried again" errors; bad
    symbols, bad requests and authentication errors are ``ExchangeError`` and fail at once.
    """
    return isinstance(exc, ccxt.OperationFailed)


def retry_after(exchange: Any) -> float | None:
    """The ``Retry-After`` of the exchange's last response, in seconds (ccxt itself ignores it)."""
    return retry_after_seconds(getattr(exchange, "last_response_headers", None))


def retry_after_of(exchange: Any):
    """A function giving the Retry-After of the exchange's last response when ``exc`` is a rate limit."""

    def on_error(exc: BaseException) -> float | None:
        if not isinstance(exc, ccxt.DDoSProtection | ccxt.RateLimitExceeded):
            return None
        return retry_after(exchange)

    return on_error


def secrets_of(exchange: Any) -> list[str | None]:
    """Values to mask in any message about this exchange."""
    return [getattr(exchange, name, None) for name in ("apiKey", "secret", "password")]


def venue_symbol(venue: CcxtMarketData, asset_symbol: str, quote: str) -> str:
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
