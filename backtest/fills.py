"""The backtest venue: fills that could have happened, against the replayed market only.

* **Latency**: an order reaches the venue ``latency`` after the decision, sampled (seeded) by
  :class:`Latency`; it is matched against the market of that moment.
* **Taking**: a market or marketable order walks the newest book snapshot at or before its arrival,
  level by level within its limit, and fills partially where the depth runs out (an IOC's rest is
  cancelled). Liquidity taken from a snapshot stays taken until the next snapshot.
* **Resting**: a limit order that does not cross joins the FIFO queue at its price behind the
  displayed size there (none when the level was not displayed). Only trades at its price or
  through it (taker on the other side) advance the queue; what a trade leaves after the queue
  ahead is filled, at the order's own price.
* **Fees** per venue (the paper venue's fee); **AMM** swaps fill on the constant-product curve at
  the pool's reserves of the newest block at or before arrival, less the pool fee, and pay gas of
  ``swap_gas_units`` at that block's base fee, priced in the quote currency at the ETH mid.

No fill is ever at a price that was not quoted (a book level, the order's own resting price, or
the pool's curve at that block's reserves).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from backtest.market import Market
from execution.venues.matching import PaperVenueSpec

BUY, SELL = "buy", "sell"


@dataclass
class SimOrder:
    order_id: str
    decision_id: str
    venue: str
    symbol: str
    side: str
    amount: float
    limit: float | None
    tif: str  # ioc | gtc
    decided_at: int  # µs
    arrive_at: int
    arrival_price: float  # the mid when decided: slippage is measured against it
    filled: float = 0.0
    cost: float = 0.0  # quote paid (buy) or received (sell), before fees
    fee: float = 0.0
    gas: float = 0.0
    status: str = "pending"  # pending | resting | filled | partial | cancelled | rejected
    reason: str | None = None
    queue_ahead: float | None = None
    seen_until: int = 0

    @property
    def remaining(self) -> float:
        return self.amount - self.filled

    @property
    def average_price(self) -> float | None:
        return self.cost / self.filled if self.filled else None


@dataclass(frozen=True)
class Fill:
    fill_id: str
    order_id: str
    venue: str
    symbol: str
    side: str
    ts: int
    price: float
    amount: float
    fee: float
    gas: float
    liquidity: str  # taker | maker | amm
    block: int | None = None


class Latency:
    """Signal-to-venue latency in µs, sampled from a seeded generator.

    ``p50_ms``/``p99_ms`` (measured tick-to-ack of ``kimera live``, when there is one) give a
    lognormal; otherwise the venue's published latency with ±20 % jitter, as the paper venue has.
    """

    def __init__(self, seed: int, p50_ms: float | None = None, p99_ms: float | None = None):
        self.rng = np.random.default_rng(seed)
        self.p50_ms, self.p99_ms = p50_ms, p99_ms

    def sample_us(self, venue_latency_s: float) -> int:
        if self.p50_ms and self.p99_ms and self.p99_ms > self.p50_ms:
            sigma = math.log(self.p99_ms / self.p50_ms) / 2.3263
            ms = float(np.exp(math.log(self.p50_ms) + sigma * self.rng.standard_normal()))
            return max(1, int(ms * 1e3))
        return max(1, int(venue_latency_s * (0.8 + 0.4 * self.rng.random()) * 1e6))


@dataclass
class PoolRef:
    address: str
    base_is_token0: bool


class BacktestVenues:
    """Every venue of a backtest (CEX books and AMM pools), matching against ``market``."""

    def __init__(
        self,
        market: Market,
        specs: list[PaperVenueSpec],
        pools: dict[str, PoolRef],
        swap_gas_units: float,
        gas_price_asset: str | None,
    ):
        self.market = market
        self.specs = {s.name: s for s in specs}
        self.pools = pools  # venue name -> pool
        self.swap_gas_units = swap_gas_units
        self.gas_price_asset = gas_price_asset
        self.candles = None  # backtest.candle_fills.CandleFills, for venues with candles but no book
        self.candle_venues: set[str] = set()
        self.orders: list[SimOrder] = []
        self.open: list[SimOrder] = []
        self.fills: list[Fill] = []
        self._taken: dict[tuple, float] = {}  # (venue, symbol, side, price, snapshot ts) -> amount taken
        self._pool_net: dict[tuple[str, int], tuple[float, float]] = {}  # (pool, block) -> our net flow

    def place(self, order: SimOrder) -> None:
        self.orders.append(order)
        self.open.append(order)

    def cancel_resting(self, reason: str) -> list[SimOrder]:
        done = []
        for o in list(self.open):
            if o.status == "resting":
                o.status = "partial" if o.filled else "cancelled"
                o.reason = reason
                self.open.remove(o)
                done.append(o)
        return done

    def advance(self, until: int) -> list[SimOrder]:
        """Match every order due by ``until`` (epoch µs), in arrival order; the orders that changed."""
        changed = []
        for o in sorted(self.open, key=lambda o: (o.arrive_at, o.order_id)):
            if o.arrive_at > until:
                continue
            before = (o.status, o.filled)
            if o.venue in self.candle_venues:
                self.candles.match(o, self.specs[o.venue], until, self._candle_fill)
            elif o.status == "pending":
                spec = self.specs[o.venue]
                if spec.kind == "amm":
                    self._swap(o, spec)
                else:
                    self._take(o, spec)
            if o.status == "resting" and o.venue not in self.candle_venues:
                self._rest(o, self.specs[o.venue], until)
            if o.status not in ("pending", "resting"):
                self.open.remove(o)
            if (o.status, o.filled) != before:
                changed.append(o)
        return changed

    # --- CEX ----------------------------------------------------------------------------------
    def _take(self, o: SimOrder, spec: PaperVenueSpec) -> None:
        book = self.market.book(o.venue, o.symbol, o.arrive_at)
        if book is None:
            o.status, o.reason = (
                "rejected",
                f"no book of {o.venue} {o.symbol} at or before the order's arrival",
            )
            return
        levels = book.asks if o.side == BUY else book.bids
        for price, shown in levels:
            if o.remaining <= 1e-12:
                break
            if o.limit is not None and (price > o.limit if o.side == BUY else price < o.limit):
                break
            key = (o.venue, o.symbol, o.side, float(price), book.ts)
            available = float(shown) - self._taken.get(key, 0.0)
            take = min(available, o.remaining)
            if take <= 1e-12:
                continue
            self._taken[key] = self._taken.get(key, 0.0) + take
            self._fill(o, float(price), take, float(price) * take * spec.fee, 0.0, o.arrive_at, "taker")
        if o.remaining <= 1e-12:
            o.status = "filled"
        elif o.tif == "gtc" and o.limit is not None:
            o.status = "resting"
            o.seen_until = o.arrive_at
            # the queue ahead: what the book displayed at our price on our side when we arrived
            same = book.bids if o.side == BUY else book.asks
            at = np.isclose(same[:, 0], o.limit, rtol=0, atol=1e-9 * max(1.0, o.limit)) if len(same) else []
            o.queue_ahead = float(same[at, 1].sum()) if len(same) else 0.0
        else:
            o.status = "partial" if o.filled else "cancelled"
            o.reason = (
                "IOC remainder cancelled: the book ran out within the limit"
                if o.filled
                else ("IOC: no liquidity within the limit")
            )

    def _rest(self, o: SimOrder, spec: PaperVenueSpec, until: int) -> None:
        ts, side, price, amount = self.market.trades_between(o.venue, o.symbol, o.seen_until, until)
        o.seen_until = max(o.seen_until, until)
        # a resting buy is hit by sell-takers at its price or below; a resting sell by buy-takers
        hits = (side == SELL) & (price <= o.limit) if o.side == BUY else (side == BUY) & (price >= o.limit)
        for t, size in zip(ts[hits], amount[hits], strict=True):
            left = float(size)
            ahead = o.queue_ahead or 0.0
            if ahead > 0:
                used = min(ahead, left)
                o.queue_ahead, left = ahead - used, left - used
            take = min(left, o.remaining)
            if take > 1e-12:
                self._fill(o, float(o.limit), take, float(o.limit) * take * spec.fee, 0.0, int(t), "maker")
            if o.remaining <= 1e-12:
                o.status = "filled"
                return

    # --- AMM ----------------------------------------------------------------------------------
    def _swap(self, o: SimOrder, spec: PaperVenueSpec) -> None:
        pool = self.pools[o.venue]
        state = self.market.reserves_at(pool.address, o.arrive_at)
        fee_at = self.market.base_fee_gwei(o.arrive_at)
        if state is None or fee_at is None:
            o.status, o.reason = (
                "rejected",
                f"no reserves of pool {pool.address} (or no block) before arrival",
            )
            return
        block, r0, r1 = state
        base, quote = (r0, r1) if pool.base_is_token0 else (r1, r0)
        net_base, net_quote = self._pool_net.get((pool.address, block), (0.0, 0.0))
        base, quote = base - net_base, quote + net_quote  # our own earlier swaps in this block
        q, f = o.remaining, spec.fee
        if o.side == BUY:
            paid = quote * q / ((base - q) * (1 - f)) if q < base else math.inf
        else:
            paid = quote * (1 - f) * q / (base + (1 - f) * q)
        avg = paid / q
        if o.limit is not None and (avg > o.limit if o.side == BUY else avg < o.limit):
            o.status, o.reason = "cancelled", f"swap would trade at {avg:.6f}, beyond the bound {o.limit:.6f}"
            return
        gas = self.swap_gas_units * fee_at[1] * 1e-9 * self._gas_asset_price(o.arrive_at)
        sign = 1.0 if o.side == BUY else -1.0
        self._pool_net[(pool.address, block)] = (net_base + sign * q, net_quote + sign * paid)
        # the pool fee is inside the curve's price (avg); gas is the venue cost beside it
        self._fill(o, avg, q, 0.0, gas, o.arrive_at, "amm", block)
        o.status = "filled"

    def _gas_asset_price(self, t: int) -> float:
        """The gas token's price in quote: the mid of the first CEX book of its asset."""
        if self.gas_price_asset is None:
            return 0.0
        for spec in self.specs.values():
            if spec.kind == "cex":
                book = self.market.book(spec.name, self.gas_price_asset, t)
                if book is not None and math.isfinite(book.mid):
                    return book.mid
        return 0.0

    def _candle_fill(self, o: SimOrder, price: float, amount: float, fee: float, ts: int, how: str) -> None:
        self._fill(o, price, amount, fee, 0.0, ts, how)

    def _fill(self, o: SimOrder, price: float, amount: float, fee: float, gas: float, ts: int, how: str,
              block: int | None = None) -> None:  # fmt: skip
        o.filled += amount
        o.cost += price * amount
        o.fee += fee
        o.gas += gas
        fill = Fill(f"{o.order_id}-f{len(self.fills) + 1}", o.order_id, o.venue, o.symbol, o.side, ts, price,
                    amount, fee, gas, how, block)  # fmt: skip
        self.fills.append(fill)


class BacktestJournal:
    """The backtest's own journal (one JSON line per decision, order change and fill), in the run's
    folder: never the paper or live journal."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file = path.open("w")

    def write(self, kind: str, record: dict) -> None:
        self._file.write(json.dumps({"kind": kind, **record}, sort_keys=True, default=str) + "\n")

    def order(self, o: SimOrder) -> None:
        self.write("order", asdict(o))

    def fill(self, f: Fill) -> None:
        self.write("fill", asdict(f))

    def close(self) -> None:
        self._file.close()


__all__ = ["BacktestJournal", "BacktestVenues", "Fill", "Latency", "PoolRef", "SimOrder"]
