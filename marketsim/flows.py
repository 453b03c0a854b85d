"""ERC-20 transfers that are not swaps: exchange inflows and outflows, whale moves, background.

Exchange flows of a token are drawn from their own stream, independent of prices, because the
planted signal is computed from them and then moves the price. The net exchange inflow of a bar is
computed from the very rows written to ``raw.token_transfers`` (amount where ``to_address`` is a
labelled exchange wallet, minus amount where ``from_address`` is one), exactly as SQL would.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from marketsim.clock import Blocks
from marketsim.keyed import generator, name_key
from marketsim.spec import SimSpec, TokenSpec
from marketsim.wallets import AddressBook

FLOW_LOG_SIGMA = 1.0  # lognormal sigma of exchange transfer sizes
WHALE_LOG_SIGMA = 0.6  # whale size = threshold * exp(WHALE_LOG_SIGMA * |Z|)
WHALE_DIRECTIONS = (0.4, 0.4, 0.2)  # into an exchange, out of one, wallet to wallet
INTERNAL_PER_HOUR = 0.5  # exchange-to-exchange rebalancing (net zero for flows)
BACKGROUND_SIZE = 0.25  # background median size, relative to the exchange-flow median
BACKGROUND_LOG_SIGMA = 1.2


def units_exponent(token: TokenSpec) -> int:
    """Amounts are kept as integers of 10**-p token units, p = min(decimals, 8)."""
    return min(token.decimals, 8)


def to_units(amount: np.ndarray, token: TokenSpec) -> np.ndarray:
    scale = 10.0 ** units_exponent(token)
    return np.clip(np.rint(amount * scale), 1, 9e18).astype(np.int64)


@dataclass(frozen=True)
class Transfers:
    """Single-log transfers of one day (each its own transaction), before ordering into blocks."""

    block: np.ndarray  # offset of the block within the day
    order: np.ndarray  # position among the block's plain transfers, in [0, 1)
    token: np.ndarray  # index into spec.tokens
    src: np.ndarray  # address-book index
    dst: np.ndarray
    units: np.ndarray  # amount in 10**-p token units

    @staticmethod
    def concat(parts: list[Transfers]) -> Transfers:
        if not parts:
            empty = np.zeros(0, dtype=np.int64)
            return Transfers(empty, np.zeros(0), empty, empty, empty, empty)
        return Transfers(
            *(np.concatenate([getattr(p, f) for p in parts]) for f in Transfers.__dataclass_fields__)
        )

    def __len__(self) -> int:
        return len(self.block)


def _median_size(spec: SimSpec, token: TokenSpec) -> float:
    return spec.flow_size_usd / spec.token_usd_price_at_epoch(token)


def exchange_flows(spec: SimSpec, book: AddressBook, day: int, blocks: Blocks) -> Transfers:
    """Transfers into and out of labelled exchange wallets, whale moves included, for one day."""
    parts = []
    exchanges = book.exchange
    n_exchanges = len(exchanges)
    for ti, token in enumerate(spec.tokens):
        g = generator(spec.seed, "exchange-flows", name_key(token.symbol), day)
        rate = spec.exchange_flows_per_hour * 24 if n_exchanges else 0.0
        n_in, n_out = g.poisson(rate), g.poisson(rate)
        n_internal = g.poisson(INTERNAL_PER_HOUR * 24) if n_exchanges > 1 else 0
        n_whale = g.poisson(spec.whales_per_day) if token.whale_threshold > 0 else 0
        median = _median_size(spec, token)

        def venue(n: int, g: np.random.Generator = g) -> np.ndarray:
            return exchanges[g.integers(0, n_exchanges, n)] if n_exchanges else np.zeros(n, np.int64)

        # into exchanges, then out of them
        src = [book.pick_users(g, n_in), venue(n_out)]
        dst = [venue(n_in), book.pick_users(g, n_out)]
        sizes = [median * np.exp(FLOW_LOG_SIGMA * g.standard_normal(n_in + n_out))]
        # whales: into an exchange, out of one, or between two ordinary wallets
        kind = g.choice(3, size=n_whale, p=WHALE_DIRECTIONS) if n_exchanges else np.full(n_whale, 2)
        whale, whale_venue, other = book.pick_users(g, n_whale), venue(n_whale), book.pick_users(g, n_whale)
        other = np.where(other == whale, (other + 1) % book.users, other)
        src.append(np.where(kind == 1, whale_venue, whale))
        dst.append(np.select([kind == 0, kind == 1], [whale_venue, whale], other))
        sizes.append(token.whale_threshold * np.exp(WHALE_LOG_SIGMA * np.abs(g.standard_normal(n_whale))))
        # exchange-to-exchange rebalancing: counts as inflow and outflow at once (net zero)
        first = g.integers(0, max(n_exchanges, 1), n_internal)
        second = (first + g.integers(1, max(n_exchanges, 2), n_internal)) % max(n_exchanges, 1)
        src.append(exchanges[first] if n_internal else np.zeros(0, np.int64))
        dst.append(exchanges[second] if n_internal else np.zeros(0, np.int64))
        sizes.append(median * np.exp(FLOW_LOG_SIGMA * g.standard_normal(n_internal)))

        amounts = np.concatenate(sizes)
        n = len(amounts)
        parts.append(
            Transfers(
                block=g.integers(0, blocks.count, n),
                order=g.random(n),
                token=np.full(n, ti, dtype=np.int64),
                src=np.concatenate(src).astype(np.int64),
                dst=np.concatenate(dst).astype(np.int64),
                units=to_units(amounts, token),
            )
        )
    return Transfers.concat(parts)


def background_transfers(spec: SimSpec, book: AddressBook, day: int, blocks: Blocks) -> Transfers:
    """Ordinary wallet-to-wallet transfers of every token for one day (no exchange involved)."""
    parts = []
    for ti, token in enumerate(spec.tokens):
        g = generator(spec.seed, "background-transfers", name_key(token.symbol), day)
        n = g.poisson(spec.transfers_per_hour * 24)
        src = book.pick_users(g, n)
        dst = book.pick_users(g, n)
        dst = np.where(dst == src, (dst + 1) % book.users, dst)
        amounts = (
            BACKGROUND_SIZE * _median_size(spec, token) * np.exp(BACKGROUND_LOG_SIGMA * g.standard_normal(n))
        )
        parts.append(
            Transfers(
                block=g.integers(0, blocks.count, n),
                order=g.random(n),
                token=np.full(n, ti, dtype=np.int64),
                src=src,
                dst=dst,
                units=to_units(amounts, token),
            )
        )
    return Transfers.concat(parts)


def net_inflow(spec: SimSpec, book: AddressBook, transfers: Transfers, blocks: Blocks) -> np.ndarray:
    """(tokens, bars_per_day) net exchange inflow per bar in token units, as SQL computes it from
    the rows: sum(amount) to exchange wallets minus sum(amount) from them, by block time."""
    out = np.zeros((len(spec.tokens), spec.bars_per_day))
    if len(transfers) == 0:
        return out
    exponent = np.array([units_exponent(t) for t in spec.tokens])
    amount = transfers.units / 10.0 ** exponent[transfers.token]
    sign = book.is_exchange[transfers.dst].astype(np.int64) - book.is_exchange[transfers.src]
    bar = blocks.seconds_in_day[transfers.block] // spec.bar_seconds
    key = transfers.token * spec.bars_per_day + bar
    out.ravel()[:] = np.bincount(key, weights=amount * sign, minlength=out.size)
    return out
