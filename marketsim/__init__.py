"""marketsim: a seeded, vectorised market, chain and DEX simulator (imports nothing of Kimera).

    from marketsim import MarketSimulator, SimSpec, AssetSpec, VenueSpec
    sim = MarketSimulator(spec)
    tables = sim.generate(start, end)          # {raw table name: pyarrow.Table}
    bids, asks = sim.order_book("alpha", "BTC/USDT", t)
    sim.bayes_accuracy(start, end).expected    # A*, the best possible directional accuracy

See docs/simulator.md for the model, the planted signal and the API.
"""

from marketsim.clock import SimWindowError
from marketsim.schemas import PARTITIONED, REFERENCE, SCHEMAS
from marketsim.signal import BayesAccuracy
from marketsim.simulator import TABLES, MarketSimulator, PoolReserves
from marketsim.spec import AssetSpec, PoolSpec, SimSpec, SimSpecError, TokenSpec, VenueSpec, WalletSpec

__all__ = [
    "PARTITIONED",
    "REFERENCE",
    "SCHEMAS",
    "TABLES",
    "AssetSpec",
    "BayesAccuracy",
    "MarketSimulator",
    "PoolReserves",
    "PoolSpec",
    "SimSpec",
    "SimSpecError",
    "SimWindowError",
    "TokenSpec",
    "VenueSpec",
    "WalletSpec",
]
