"""A local exchange for the real ccxt / ccxt.pro clients: see :mod:`tests.support.exchange.server`."""

from tests.support.exchange.faults import Fault, Faults
from tests.support.exchange.market import DEFAULT_LISTINGS, Listing, Market, Trade
from tests.support.exchange.server import Dialect, ExchangeServer, LoggedRequest, json_response

__all__ = [
    "DEFAULT_LISTINGS",
    "Dialect",
    "ExchangeServer",
    "Fault",
    "Faults",
    "Listing",
    "LoggedRequest",
    "Market",
    "Trade",
    "json_response",
]
