"""``MarketSimulator``: the simulated world as a pure function of (spec, seed, time window).

Work is done in day chunks counted from the epoch (``spec.start``). Path-dependent state -- the
latent prices and the pools' reserves -- is carried from day to day and checkpointed at every
midnight, so asking for day 300 computes days 0..299 once (a few ms each) and later questions
start from the nearest checkpoint. Everything else in a day comes from counter-based streams
keyed by (seed, stream, names, day). A window's rows are the rows of the days it touches,
filtered to ``[start, end)``: any split of a window gives the same rows.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from marketsim import encode
from marketsim.cex import CexDay, Pairs, book_levels, cex_day
from marketsim.chain import ChainDay
from marketsim.clock import (
    US_PER_DAY,
    US_PER_MINUTE,
    US_PER_S,
    Blocks,
    SimWindowError,
    from_micros,
    to_micros,
)
from marketsim.dex import PoolDay, PoolState, initial_pool_state, pool_day
from marketsim.flows import Transfers, background_transfers, exchange_flows, net_inflow, units_exponent
from marketsim.latent import LatentDay, LatentState, initial_state, interpolate, latent_day
from marketsim.reference import reference_tables
from marketsim.schemas import PARTITIONED
from marketsim.signal import BayesAccuracy, oracle_hits, probability_up, signal_scale
from marketsim.spec import SimSpec, VenueSpec
from marketsim.venue_tables import books_table, ohlcv_table, trades_table
from marketsim.wallets import AddressBook

TABLES: tuple[str, ...] = tuple(PARTITIONED)


class _LRU:
    def __init__(self, size: int) -> None:
        self.size = size
        self.items: OrderedDict[Any, Any] = OrderedDict()

    def get(self, key: Any, make: Callable[[], Any]) -> Any:
        if key in self.items:
            self.items.move_to_end(key)
            return self.items[key]
        value = make()
        self.items[key] = value
        if len(self.items) > self.size:
            self.items.popitem(last=False)
        return value


@dataclass(frozen=True)
class PoolReserves:
    """A pool's reserves (decimal-adjusted) after its last swap at or before an instant."""

    pool: str
    token0: str
    token1: str
    reserve0: float
    reserve1: float
    fee_bps: float

    @property
    def price(self) -> float:
        """token1 per token0."""
        return self.reserve1 / self.reserve0


class MarketSimulator:
    """The simulated market, chain and DEX world of one :class:`SimSpec`.

    Thread-safe; results are cached in-process (``cache_days`` day chunks of each kind).

    ``world``: another chain of the same world. Given, this simulator takes its fair prices, venue
    mids and books from ``world`` (whose chain carries the planted signal) and makes its own chain:
    blocks, transfers and pools of ``spec``. So two chains' pools track one fair price each with its
    own noise and arbitrage lag, which is what a cross-chain basis is made of.
    """

    def __init__(self, spec: SimSpec, cache_days: int = 8, world: MarketSimulator | None = None) -> None:
        if world is not None and (world.symbols, world.spec.start) != (
            [a.pair for a in spec.assets],
            spec.start,
        ):
            raise ValueError("a chain of another world must have the same assets and start as that world")
        self.spec = spec
        self.world = world
        self.epoch_us = to_micros(spec.start)
        self.book = AddressBook(spec)
        self.pairs = Pairs.of(spec)
        self._lock = threading.RLock()
        self._scales = np.array(
            [signal_scale(spec, spec.token(a.token)) if a.token else 1.0 for a in spec.assets]
        )
        self._asset_token = [spec.tokens.index(spec.token(a.token)) if a.token else -1 for a in spec.assets]
        # checkpoints: state at the start of day d (index d), kept for every day reached
        self._latent_states: list[LatentState] = [initial_state(spec)]
        self._pool_states: list[list[PoolState]] = [[initial_pool_state(spec, p) for p in spec.pools]]
        self._inflow: dict[int, np.ndarray] = {}  # day -> (tokens, bars) net exchange inflow
        self._latent = _LRU(max(cache_days, 2) * 4)
        self._flows = _LRU(cache_days)
        self._pools = _LRU(cache_days)
        self._chain = _LRU(cache_days)
        self._cex = _LRU(cache_days)
        self._block_days = _LRU(cache_days * 2)
        self._tables = _LRU(cache_days * len(TABLES))

    # --- public: metadata ------------------------------------------------------------------------
    @property
    def start(self) -> datetime:
        return self.spec.start

    @property
    def venues(self) -> list[str]:
        return [v.id for v in self.spec.venues]

    @property
    def symbols(self) -> list[str]:
        return [a.pair for a in self.spec.assets]

    @property
    def pools(self) -> list[str]:
        return [p.address.lower() for p in self.spec.pools]

    def venue(self, venue: str) -> VenueSpec:
        """The venue's parameters: ``fee_bps``, ``latency_ms``, ``spread_bps``, ``depth``, ``dispersion_bps``."""
        return self.spec.venues[self._venue_index(venue)]

    def signal_scale(self, asset: str) -> float:
        """The fixed scale (token units per bar) that turns an asset's net exchange inflow into s."""
        return float(self._scales[self._asset_index(asset)])

    # --- public: tables ----------------------------------------------------------------------------
    def generate(
        self, start: datetime, end: datetime, tables: Iterable[str] | None = None
    ) -> dict[str, pa.Table]:
        """Rows of the partitioned raw tables whose time column lies in ``[start, end)`` (naive UTC).

        Returns ``{table name: Arrow table}`` for ``tables`` (default: all seven), each with exactly
        the columns and types of ``marketsim.schemas``. Identical for any split of the window.
        """
        names = list(TABLES if tables is None else tables)
        unknown = [n for n in names if n not in PARTITIONED]
        if unknown:
            raise ValueError(f"unknown table(s) {unknown}; the simulator makes {list(TABLES)}")
        lo, hi = self._window(start, end)
        first, last = (lo - self.epoch_us) // US_PER_DAY, (hi - 1 - self.epoch_us) // US_PER_DAY
        parts: dict[str, list[pa.Table]] = {n: [] for n in names}
        for day in range(first, last + 1):
            day_lo = self.epoch_us + day * US_PER_DAY
            whole = lo <= day_lo and day_lo + US_PER_DAY <= hi
            for name in names:
                table = self.day_table(day, name)
                if not whole:
                    column = table.column(PARTITIONED[name][1])
                    lo_s, hi_s = pa.scalar(lo, type=column.type), pa.scalar(hi, type=column.type)
                    table = table.filter(pc.and_(pc.greater_equal(column, lo_s), pc.less(column, hi_s)))
                parts[name].append(table)
        return {n: pa.concat_tables(parts[n]) if parts[n] else PARTITIONED[n][0].empty_table() for n in names}

    def reference_tables(self) -> dict[str, pa.Table]:
        """``dex_pools``, ``tokens`` and ``wallet_labels`` as the simulated chain knows them."""
        return reference_tables(self.spec)

    def day_table(self, day: int, name: str) -> pa.Table:
        """All rows of table ``name`` on day ``day`` (counted from the epoch); cached."""
        with self._lock:
            return self._tables.get((day, name), lambda: self._make_table(day, name))

    # --- public: point queries (paper venues) ------------------------------------------------------
    def fair_price(self, asset: str, t: datetime) -> float:
        """The latent fair price of ``asset`` (e.g. ``"BTC"``) in USD at instant ``t``."""
        ai = self._asset_index(asset)
        day, minute = self._instant(t)
        return float(np.exp(interpolate(self._latent_day(day).log_fair[ai], np.array([minute]))[0]))

    def mid_price(self, venue: str, symbol: str, t: datetime) -> float:
        """The venue's mid price of ``symbol`` (e.g. ``"BTC/USDT"``) at instant ``t``."""
        vi, ai = self._venue_index(venue), self._symbol_index(symbol)
        day, minute = self._instant(t)
        return float(np.exp(interpolate(self._latent_day(day).log_mid[ai, vi], np.array([minute]))[0]))

    def order_book(
        self, venue: str, symbol: str, t: datetime, depth: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The venue's book of ``symbol`` at ``t``: ``(bids, asks)``, each an array of ``[price, amount]``
        rows, best first (bids descending, asks ascending). The stored snapshots are this function
        at their timestamps."""
        vi, ai = self._venue_index(venue), self._symbol_index(symbol)
        depth = self.spec.book_depth if depth is None else int(depth)
        if not 1 <= depth <= 500:
            raise ValueError(f"depth {depth} is not accepted: 1 to 500 levels")
        day, minute = self._instant(t)
        log_mid = interpolate(self._latent_day(day).log_mid[ai, vi], np.array([minute]))
        global_minute = np.array(
            [(to_micros(t) - self.epoch_us) // US_PER_MINUTE]
        )  # integer: exact at boundaries
        pair = np.array([vi * len(self.spec.assets) + ai])
        bid_p, bid_a, ask_p, ask_a = book_levels(self.pairs, pair, log_mid, global_minute, depth)
        return np.column_stack([bid_p[0], bid_a[0]]), np.column_stack([ask_p[0], ask_a[0]])

    def pool_state(self, pool: str, t: datetime) -> PoolReserves:
        """Reserves of ``pool`` (address) after its last swap at or before ``t``."""
        addresses = self.pools
        if pool.lower() not in addresses:
            raise KeyError(f"unknown pool {pool!r}; simulated pools are {addresses}")
        pi = addresses.index(pool.lower())
        spec_pool = self.spec.pools[pi]
        day, _ = self._instant(t)
        with self._lock:
            swaps = self._pool_days(day)[pi]
            blocks = self._blocks(day)
        micros_in_day = to_micros(t) - self.epoch_us - day * US_PER_DAY  # exact: no float minutes here
        done = np.searchsorted(blocks.seconds_in_day[swaps.block] * US_PER_S, micros_in_day, side="right")
        if done:
            u0, u1 = int(swaps.units0[done - 1]), int(swaps.units1[done - 1])
        else:
            u0, u1 = swaps.start.units0, swaps.start.units1
        t0, t1 = self.spec.token(spec_pool.token0), self.spec.token(spec_pool.token1)
        return PoolReserves(
            pool=pool.lower(),
            token0=t0.symbol,
            token1=t1.symbol,
            reserve0=u0 / 10.0 ** units_exponent(t0),
            reserve1=u1 / 10.0 ** units_exponent(t1),
            fee_bps=spec_pool.fee_bps,
        )

    # --- public: evaluation only (never written to raw tables) -------------------------------------
    def planted_signal(self, start: datetime, end: datetime) -> pa.Table:
        """Per asset and bar inside ``[start, end)``: the planted observable and the truth it predicts.

        Columns: ``asset``, ``bar_time`` (the bar's close), ``net_inflow`` (token units), ``scale``,
        ``s`` (= net_inflow / scale), ``sigma_next`` (the next bar's diffusive std), ``p_up`` (P(next
        bar's fair log return > 0 | s, sigma_next)), ``fwd_ret`` (that return, realised), ``hit``
        (the oracle's call scored: 1, 0, or 1/2 on a tie).
        """
        lo, hi = self._window(start, end)
        spec = self.spec
        bar_us = spec.bar_seconds * US_PER_S
        first = -(-(lo - self.epoch_us) // bar_us)
        stop = (hi - self.epoch_us) // bar_us  # bars first .. stop-1 lie inside the window
        rows: dict[str, list[np.ndarray]] = {k: [] for k in ("asset", "bar", "net", "s", "sigma", "ret")}
        bpd, mpb = spec.bars_per_day, spec.minutes_per_bar
        days = range(first // bpd, (stop - 1) // bpd + 1) if stop > first else range(0)
        for day in days:
            bars = np.arange(max(first, day * bpd), min(stop, (day + 1) * bpd))
            idx = bars - day * bpd
            inflow, signal = self._net_inflow(day), self._signal(day)
            latent, nxt = self._latent_day(day), self._latent_day(day + 1)
            # bar h+1 lies in this day unless h is the day's last bar
            inside = idx + 1 < bpd
            sigma_next = np.where(
                inside, latent.bar_sigma[:, np.minimum(idx + 1, bpd - 1)], nxt.bar_sigma[:, [0]]
            )
            close = (idx + 1) * mpb  # bar h's close, as a boundary minute of this day (<= 1440)
            both = np.concatenate([latent.log_fair, nxt.log_fair[:, 1:]], axis=1)  # boundaries 0..2880
            for ai in range(len(spec.assets)):
                token = self._asset_token[ai]
                rows["asset"].append(np.full(len(bars), ai))
                rows["bar"].append(bars)
                rows["net"].append(inflow[token, idx] if token >= 0 else np.zeros(len(bars)))
                rows["s"].append(signal[ai, idx])
                rows["sigma"].append(sigma_next[ai])
                rows["ret"].append(both[ai, close + mpb] - both[ai, close])
        cat = {k: np.concatenate(v) if v else np.zeros(0) for k, v in rows.items()}
        asset_ix = cat["asset"].astype(np.int64)
        p_up = np.zeros(len(asset_ix))
        for ai, asset in enumerate(spec.assets):
            sel = asset_ix == ai
            p_up[sel] = probability_up(
                cat["s"][sel], cat["sigma"][sel], spec.signal_strength, asset, spec.bar_seconds
            )
        bar_time = self.epoch_us + (cat["bar"].astype(np.int64) + 1) * bar_us
        order = np.lexsort((bar_time, asset_ix))
        table = pa.table(
            {
                "asset": encode.choose([a.symbol for a in spec.assets], asset_ix),
                "bar_time": encode.timestamps(bar_time),
                "net_inflow": pa.array(cat["net"]),
                "scale": pa.array(self._scales[asset_ix] if len(asset_ix) else np.zeros(0)),
                "s": pa.array(cat["s"]),
                "sigma_next": pa.array(cat["sigma"]),
                "p_up": pa.array(p_up),
                "fwd_ret": pa.array(cat["ret"]),
                "hit": pa.array(oracle_hits(p_up, cat["ret"] > 0)),
            }
        )
        return table.take(pa.array(order))

    def bayes_accuracy(self, start: datetime, end: datetime) -> BayesAccuracy:
        """A* (expected) and the oracle's realised hit rate over the bars inside ``[start, end)``."""
        table = self.planted_signal(start, end)
        p_up = table.column("p_up").to_numpy()
        hits = table.column("hit").to_numpy()
        assets = np.asarray(table.column("asset").to_pylist(), dtype=object)
        best = np.maximum(p_up, 1.0 - p_up)
        n = len(best)
        if n == 0:
            raise SimWindowError(f"no whole bar of {self.spec.bar_seconds} s lies inside [{start}, {end})")
        expected = float(best.mean())
        by_asset = {}
        for a in self.spec.assets:
            sel = assets == a.symbol
            by_asset[a.symbol] = (float(best[sel].mean()), float(hits[sel].mean()), int(sel.sum()))
        return BayesAccuracy(
            expected=expected,
            realised=float(hits.mean()),
            bars=n,
            stderr=float(np.sqrt(expected * (1 - expected) / n)),
            by_asset=by_asset,
        )

    # --- internals: window and names ---------------------------------------------------------------
    def _window(self, start: datetime, end: datetime) -> tuple[int, int]:
        lo, hi = to_micros(start), to_micros(end)
        if lo < self.epoch_us:
            raise SimWindowError(
                f"window start {from_micros(lo)} is before the simulation's start {self.spec.start} "
                "(the config's `start`): the simulated world begins there"
            )
        if hi <= lo:
            raise SimWindowError(f"window end {from_micros(hi)} must be after its start {from_micros(lo)}")
        return lo, hi

    def _instant(self, t: datetime) -> tuple[int, float]:
        us = to_micros(t)
        if us < self.epoch_us:
            raise SimWindowError(f"instant {t} is before the simulation's start {self.spec.start}")
        offset = us - self.epoch_us
        day = offset // US_PER_DAY
        return day, (offset - day * US_PER_DAY) / US_PER_MINUTE

    def _asset_index(self, asset: str) -> int:
        for i, a in enumerate(self.spec.assets):
            if a.symbol == asset:
                return i
        raise KeyError(
            f"unknown asset {asset!r}; simulated assets are {[a.symbol for a in self.spec.assets]}"
        )

    def _symbol_index(self, symbol: str) -> int:
        for i, a in enumerate(self.spec.assets):
            if a.pair == symbol:
                return i
        raise KeyError(f"unknown symbol {symbol!r}; simulated symbols are {self.symbols}")

    def _venue_index(self, venue: str) -> int:
        for i, v in enumerate(self.spec.venues):
            if v.id == venue:
                return i
        raise KeyError(f"unknown venue {venue!r}; simulated venues are {self.venues}")

    def _blocks(self, day: int) -> Blocks:
        spec = self.spec
        return self._block_days.get(
            day, lambda: Blocks.of_day(day, spec.block_seconds, spec.first_block, self.epoch_us)
        )

    # --- internals: the day chain ------------------------------------------------------------------
    def _exchange_flows(self, day: int) -> Transfers:
        return self._flows.get(day, lambda: exchange_flows(self.spec, self.book, day, self._blocks(day)))

    def _net_inflow(self, day: int) -> np.ndarray:
        with self._lock:
            if day not in self._inflow:
                self._inflow[day] = net_inflow(
                    self.spec, self.book, self._exchange_flows(day), self._blocks(day)
                )
            return self._inflow[day]

    def _signal(self, day: int) -> np.ndarray:
        """(assets, bars) planted observable s of each bar of ``day``."""
        inflow = self._net_inflow(day)
        out = np.zeros((len(self.spec.assets), self.spec.bars_per_day))
        for ai, token in enumerate(self._asset_token):
            if token >= 0:
                out[ai] = inflow[token] / self._scales[ai]
        return out

    def _compute_latent(self, day: int) -> tuple[LatentDay, LatentState]:
        signal = self._signal(day)
        previous = self._signal(day - 1)[:, -1] if day > 0 else np.zeros(len(self.spec.assets))
        drift_signal = np.concatenate([previous[:, None], signal[:, :-1]], axis=1)
        return latent_day(self.spec, day, self._latent_states[day], drift_signal)

    def _latent_day(self, day: int) -> LatentDay:
        if self.world is not None:
            return self.world._latent_day(day)
        with self._lock:
            if day in self._latent.items:
                return self._latent.get(day, lambda: None)
            while len(self._latent_states) <= day:
                k = len(self._latent_states) - 1
                result, end = self._compute_latent(k)
                self._latent_states.append(end)
                self._latent.get(k, lambda result=result: result)
            result, end = self._compute_latent(day)
            if len(self._latent_states) == day + 1:
                self._latent_states.append(end)
            return self._latent.get(day, lambda: result)

    def _pool_days(self, day: int) -> list[PoolDay]:
        with self._lock:
            while len(self._pool_states) <= day:
                k = len(self._pool_states) - 1
                self._pool_states.append([p.end for p in self._compute_pools(k)])
            return self._compute_pools(day)

    def _compute_pools(self, day: int) -> list[PoolDay]:
        def make() -> list[PoolDay]:
            latent, blocks = self._latent_day(day), self._blocks(day)
            states = self._pool_states[day]
            return [
                pool_day(self.spec, self.book, i, blocks, latent, states[i])
                for i in range(len(self.spec.pools))
            ]

        return self._pools.get(day, make)

    def _chain_day(self, day: int) -> ChainDay:
        def make() -> ChainDay:
            spec, blocks = self.spec, self._blocks(day)
            plain = Transfers.concat(
                [self._exchange_flows(day), background_transfers(spec, self.book, day, blocks)]
            )
            past = (
                blocks.k1 * spec.block_seconds - (day + 1) * 86_400
            )  # seconds after midnight of the next slot
            next_fee = None
            if past > 0:
                nxt = self._latent_day(day + 1)
                next_fee = float(interpolate(nxt.log_base_fee, np.array([past / 60.0]))[0])
            return ChainDay(
                spec, self.book, blocks, plain, self._pool_days(day), self._latent_day(day), next_fee
            )

        return self._chain.get(day, make)

    def _cex_day(self, day: int) -> CexDay:
        return self._cex.get(day, lambda: cex_day(self.spec, self.pairs, day, self._latent_day(day)))

    # --- internals: tables of one day --------------------------------------------------------------
    def _make_table(self, day: int, name: str) -> pa.Table:
        day_us = self.epoch_us + day * US_PER_DAY
        if name == "exchange_ohlcv":
            return ohlcv_table(self.spec, self.pairs, self._cex_day(day), day_us)
        if name == "exchange_trades":
            return trades_table(self.spec, self.pairs, self._cex_day(day), day, day_us)
        if name == "order_book_snapshots":
            return books_table(self.spec, self.pairs, self._latent_day(day), day, day_us)
        chain = self._chain_day(day)
        return {
            "chain_blocks": chain.blocks_table,
            "token_transfers": chain.transfers_table,
            "dex_swaps": chain.swaps_table,
            "dex_pool_reserves": chain.reserves_table,
        }[name]()
