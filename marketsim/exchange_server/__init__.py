"""A local exchange for the real ccxt / ccxt.pro clients: see :mod:`marketsim.exchange_server.server`."""

from marketsim.exchange_server.faults import Fault, Faults
from marketsim.exchange_server.market import DEFAULT_LISTINGS, Listing, Market, Trade
from marketsim.exchange_server.server import Dialect, ExchangeServer, LoggedRequest, json_response

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
