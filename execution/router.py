"""The smart order router: split an order over CEX books and constant-product pools at least total cost.

Cost is what the trader pays (a buy) or gives up (a sell, as negative revenue): every CEX level
costs its price plus the taker fee; a pool costs its constant-product curve with its fee, plus a
fixed gas charge in the quote currency when it is used at all.

Without gas every venue's cost is convex in the amount it gets, so the optimum equalises marginal
cost: one price ``lam`` below which every level is taken and at which every pool's marginal price
sits. It is found by merging all CEX levels into one consolidated book (a sort), evaluating the
pools' amounts at each level price, and solving the one bracket where the total crosses the order
size in closed form (a pool's amount at marginal price ``lam`` is ``y - sqrt(x*y / ((1-f)*lam))``).
Amounts are then made whole lots, and a lot moves from one venue to another while that lowers the
cost; for separable convex costs that exchange test is the optimality condition, so the split is
the exact optimum on the lot grid. Gas is a fixed cost (not convex): each subset of pools is
solved with its gas paid, subsets whose gas-free lower bound cannot win are skipped, and the
cheapest wins. Arrays of floats inside; the caller converts to ``Decimal`` with venue precision.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np

from execution.venues.base import Side

_EPS = 1e-12


@dataclass(frozen=True, slots=True)
class CexInput:
    venue: str
    levels: np.ndarray  # (n, 2) [price, amount] of the side we take: asks to buy, bids to sell
    fee: float


@dataclass(frozen=True, slots=True)
class PoolInput:
    venue: str
    base_reserve: float
    quote_reserve: float
    fee: float
    gas_quote: float
    max_fraction: float = 0.05  # the largest swap as a fraction of the base reserve


@dataclass(slots=True)
class Leg:
    venue: str
    kind: str  # "cex" or "amm"
    amount: float
    cost: float  # quote paid (buy) or received as a negative number (sell), fees and gas included
    worst_price: float  # the last CEX level touched, or the pool's average price


@dataclass(slots=True)
class RoutePlan:
    side: Side
    requested: float
    amount: float  # what the books can give within the limit (<= requested)
    cost: float
    legs: list[Leg] = field(default_factory=list)

    @property
    def average_price(self) -> float:
        return abs(self.cost) / self.amount if self.amount else math.nan


class _Book:
    """The CEX side of one decision as (venue x level) matrices in cost space, lot-rounded."""

    __slots__ = ("venues", "raw", "cost", "cost0", "amount", "_cum", "order", "sorted_cost", "sorted_amount",
                 "sorted_cum", "taken")  # fmt: skip

    def __init__(self, cex: list[CexInput], side: Side, lot: float, lam_max: float):
        self.venues = [c.venue for c in cex]
        depths = {len(c.levels) for c in cex}
        padded = len(depths) > 1
        if not cex:
            raw, amount = np.zeros((0, 0)), np.zeros((0, 0))
        elif not padded:
            levels = np.concatenate([c.levels for c in cex]).reshape(len(cex), -1, 2)
            raw, amount = levels[:, :, 0], levels[:, :, 1]
        else:
            raw = np.full((len(cex), max(depths)), np.nan)
            amount = np.zeros(raw.shape)
            for i, c in enumerate(cex):
                raw[i, : len(c.levels)] = c.levels[:, 0]
                amount[i, : len(c.levels)] = c.levels[:, 1]
        fee = np.array([[c.fee] for c in cex]) if cex else np.zeros((0, 1))
        cost = raw * (1 + fee) if side is Side.BUY else raw * (fee - 1)
        amount = np.floor(amount * (1 / lot) + 1e-9) * lot  # whole lots only
        if padded or (math.isfinite(lam_max) and cost.size and cost.max() > lam_max):
            out = ~(cost <= lam_max)  # beyond the limit, or padding (nan)
            cost[out] = np.inf
            amount[out] = 0.0
            self.cost0 = np.where(amount > 0, cost, 0.0)
        else:
            self.cost0 = cost
        self.raw, self.cost, self.amount, self._cum = raw, cost, amount, None
        flat = cost.ravel()
        self.order = flat.argsort(kind="stable")
        self.sorted_cost = flat[self.order]
        self.sorted_amount = amount.ravel()[self.order]
        self.sorted_cum = self.sorted_amount.cumsum()

    def _cumulative(self) -> tuple[np.ndarray, np.ndarray]:
        if self._cum is None:
            self._cum = (self.amount.cumsum(axis=1), (self.amount * self.cost0).cumsum(axis=1))
        return self._cum

    def venue_cost(self, i: int, q: float) -> float:
        """Cost of taking ``q`` from venue ``i``'s book (inf beyond its depth)."""
        if q <= _EPS:
            return 0.0
        cum_amount, cum_cost = self._cumulative()
        cum = cum_amount[i]
        k = int(cum.searchsorted(q - 1e-12))
        if k >= len(cum):
            return math.inf
        before_amt = cum[k - 1] if k else 0.0
        before_cost = cum_cost[i, k - 1] if k else 0.0
        return float(before_cost + (q - before_amt) * self.cost[i, k])

    def worst_price(self, i: int, q: float) -> float:
        k = int(self._cumulative()[0][i].searchsorted(q - 1e-12))
        return float(self.raw[i, min(k, self.raw.shape[1] - 1)])


def _pool_amount(p: PoolInput, side: Side, lam: float) -> float:
    """A pool's amount when its marginal cost is ``lam`` (0 below its starting price), capped."""
    y, x, f = p.base_reserve, p.quote_reserve, p.fee
    cap = p.max_fraction * y
    if side is Side.BUY:
        if lam <= x / (y * (1 - f)):
            return 0.0
        return min(y - math.sqrt(x * y / ((1 - f) * lam)), cap)
    if -lam >= x * (1 - f) / y:
        return 0.0
    return min((math.sqrt(x * y * (1 - f) / -lam) - y) / (1 - f), cap)


def pool_cost(p: PoolInput, side: Side, q: float) -> float:
    """Quote paid for ``q`` base (buy), or minus the quote received (sell); without gas."""
    if q <= 0:
        return 0.0
    y, x, f = p.base_reserve, p.quote_reserve, p.fee
    if q > p.max_fraction * y + 1e-9:
        return math.inf
    if side is Side.BUY:
        return x * q / ((y - q) * (1 - f))
    return -x * (1 - f) * q / (y + (1 - f) * q)


def _pool_bounds(p: PoolInput, side: Side) -> tuple[float, float]:
    """(marginal cost of the first unit, marginal cost where the pool hits its cap)."""
    y, x, f = p.base_reserve, p.quote_reserve, p.fee
    cap = p.max_fraction * y
    if side is Side.BUY:
        return x / (y * (1 - f)), x * y / ((1 - f) * (y - cap) ** 2)
    return -x * (1 - f) / y, -x * y * (1 - f) / (y + (1 - f) * cap) ** 2


def _closed_form(active: list[PoolInput], side: Side, rest: float) -> float:
    """Marginal cost at which the uncapped ``active`` pools give ``rest`` together."""
    if side is Side.BUY:
        s = sum(math.sqrt(p.quote_reserve * p.base_reserve / (1 - p.fee)) for p in active)
        denom = sum(p.base_reserve for p in active) - rest
        return (s / denom) ** 2 if denom > 0 else math.inf
    s = sum(math.sqrt(p.quote_reserve * p.base_reserve * (1 - p.fee)) / (1 - p.fee) for p in active)
    denom = rest + sum(p.base_reserve / (1 - p.fee) for p in active)
    return -((s / denom) ** 2)


def _solve_pools(pools: list[PoolInput], side: Side, need: float, lo: float, hi: float) -> float:
    """The marginal cost in [lo, hi] at which the pools together give ``need`` (hi if they cannot)."""
    if not pools or need <= 0:
        return lo
    if sum(_pool_amount(p, side, hi) for p in pools) <= need + 1e-12:
        return hi
    bounds = [_pool_bounds(p, side) for p in pools]
    a = max(lo, min(b[0] for b in bounds))
    b = min(hi, max(b[1] for b in bounds))

    def states(lam: float) -> list[int]:  # 0 unused, 1 on its curve, 2 at its cap
        return [2 if lam >= cap_lam else 1 if lam > start else 0 for start, cap_lam in bounds]

    for _ in range(80):
        mid = 0.5 * (a + b)
        st = states(mid)
        active = [p for p, s in zip(pools, st, strict=True) if s == 1]
        if active:
            rest = need - sum(
                p.max_fraction * p.base_reserve for p, s in zip(pools, st, strict=True) if s == 2
            )
            lam = _closed_form(active, side, rest)
            if a <= lam <= b and states(lam) == st:
                return lam
        if sum(_pool_amount(p, side, mid) for p in pools) < need:
            a = mid
        else:
            b = mid
        if b - a <= 1e-14 * max(1.0, abs(a)):
            break
    return b


def _continuous(book: _Book, pools: list[PoolInput], side: Side, qty: float, lam_max: float):
    """Gas-free continuous optimum over the book and ``pools``: (cex amounts per venue, pool amounts, lam)."""
    cs, cum = book.sorted_cost, book.sorted_cum
    n = int(cs.searchsorted(lam_max, side="right")) if math.isfinite(lam_max) else len(cs)
    while n and not math.isfinite(cs[n - 1]):  # padding sorts last
        n -= 1
    if pools and n:
        pq = np.zeros(n)
        for p in pools:  # pool amounts at each breakpoint
            pq += _pool_amounts_vec(p, side, cs[:n])
        hi_total = cum[:n] + pq
    else:
        pq = None
        hi_total = cum[:n]
    i = int(hi_total.searchsorted(qty - 1e-12)) if n else 0
    taken = np.zeros(book.cost.size)
    if i >= n:  # the whole book within the limit, pools for the rest
        take_n, partial, partial_amt = n, -1, 0.0
        lo = float(cs[n - 1]) if n else -np.inf if side is Side.SELL else 0.0
        lam = _solve_pools(pools, side, qty - (float(cum[n - 1]) if n else 0.0), lo, lam_max)
    else:
        before = float(cum[i - 1]) if i else 0.0
        pools_at = float(pq[i]) if pq is not None else 0.0
        if before + pools_at >= qty - 1e-12:  # lam strictly inside (cs[i-1], cs[i])
            lo = float(cs[i - 1]) if i else (-np.inf if side is Side.SELL else 0.0)
            lam = _solve_pools(pools, side, qty - before, lo, float(cs[i]))
            take_n, partial, partial_amt = i, -1, 0.0
        else:  # lam is level i's cost; level i partly taken
            lam = float(cs[i])
            take_n, partial, partial_amt = i, i, qty - before - pools_at
    idx = book.order[:take_n]
    taken[idx] = book.amount.ravel()[idx]
    if partial >= 0:
        taken[book.order[partial]] = partial_amt
    taken = taken.reshape(book.amount.shape)
    cex = taken.sum(axis=1)
    pool_amts = [_pool_amount(p, side, lam) if math.isfinite(lam) else 0.0 for p in pools]
    book.taken = taken
    return cex, (taken * book.cost0).sum(axis=1), pool_amts, lam


def _pool_amounts_vec(p: PoolInput, side: Side, lam: np.ndarray) -> np.ndarray:
    y, x, f = p.base_reserve, p.quote_reserve, p.fee
    cap = p.max_fraction * y
    if side is Side.BUY:  # below the pool's starting price it gives nothing
        q = y - np.sqrt((x * y / (1 - f)) / np.maximum(lam, x / (y * (1 - f))))
    else:
        q = (np.sqrt((x * y * (1 - f)) / np.minimum(-lam, x * (1 - f) / y)) - y) / (1 - f)
    return np.minimum(q, cap)


def _discrete(book: _Book, pools: list[PoolInput], side: Side, lots: int, lot: float, cex, pool_amts):
    """Whole-lot optimum from the continuous one: fill the shortfall, then exchange lots while it pays."""
    nv = len(book.venues)
    units = [int(math.floor(q / lot + 1e-6)) for q in list(cex) + pool_amts]
    if sum(units) > lots:  # continuous rounding noise
        units[int(np.argmax(units))] -= sum(units) - lots

    def cost(j: int, u: int) -> float:
        if u < 0:
            return math.inf
        return book.venue_cost(j, u * lot) if j < nv else pool_cost(pools[j - nv], side, u * lot)

    exact = all(
        abs(u * lot - q) <= 1e-9 * max(1.0, q) for u, q in zip(units, list(cex) + pool_amts, strict=True)
    )
    if exact and sum(units) == lots:
        return units, True
    cur = [cost(j, u) for j, u in enumerate(units)]
    up = [cost(j, u + 1) - cur[j] for j, u in enumerate(units)]
    down = [cur[j] - cost(j, u - 1) if u > 0 else -math.inf for j, u in enumerate(units)]

    def refresh(j: int) -> None:
        cur[j] = cost(j, units[j])
        up[j] = cost(j, units[j] + 1) - cur[j]
        down[j] = cur[j] - cost(j, units[j] - 1) if units[j] > 0 else -math.inf

    short = lots - sum(units)
    while short > 0:
        j = min(range(len(up)), key=up.__getitem__)
        if not math.isfinite(up[j]):
            break
        units[j] += 1
        short -= 1
        refresh(j)
    for _ in range(4 * len(units) + 8):
        j = min(range(len(up)), key=up.__getitem__)
        i = max(range(len(down)), key=down.__getitem__)
        if i == j or not down[i] > up[j] + 1e-9 * max(1.0, abs(up[j])):
            break
        units[i] -= 1
        units[j] += 1
        refresh(i)
        refresh(j)
    return units, False


def route(
    side: Side,
    quantity: float,
    cex: list[CexInput],
    pools: list[PoolInput] = (),
    lot: float = 1e-5,
    limit_price: float | None = None,
) -> RoutePlan:
    """The least-cost split of ``quantity`` (a multiple of ``lot``) over ``cex`` books and ``pools``.

    ``limit_price`` caps the marginal cost per unit, fees included (a buy pays at most it, a sell
    receives at least it). When the venues cannot give the whole quantity within it, the plan's
    ``amount`` is smaller than ``requested``.
    """
    if side is Side.BUY:
        lam_max = math.inf if limit_price is None else limit_price
    else:  # selling: cost is minus the price received, never above zero
        lam_max = -max(limit_price or 0.0, 1e-12)
    lots = int(round(quantity / lot))
    book = _Book(list(cex), side, lot, lam_max)
    pools = list(pools)
    nv = len(book.venues)

    def solve(subset: list[PoolInput]):
        c, c_cost, pa, lam = _continuous(book, subset, side, lots * lot, lam_max)
        units, exact = _discrete(book, subset, side, lots, lot, c, pa)
        total = float(c_cost.sum()) if exact else sum(book.venue_cost(j, units[j] * lot) for j in range(nv))
        total += sum(pool_cost(p, side, units[nv + k] * lot) + (p.gas_quote if units[nv + k] else 0.0)
                     for k, p in enumerate(subset))  # fmt: skip
        return total, units, lam, (c_cost, book.taken) if exact else None

    best_cost, best_units, lam, best_exact = solve([])
    best_subset: list[PoolInput] = []
    best_amount = sum(best_units)
    if pools:
        in_money = [
            p
            for p in pools
            if _pool_amount(p, side, min(lam, lam_max) if best_amount == lots else lam_max) > 0
        ]
        if in_money:
            # lower bound for any subset: gas-free continuous optimum with every pool
            _, c_cost, pa, _ = _continuous(book, in_money, side, lots * lot, lam_max)
            free = float(c_cost.sum()) + sum(pool_cost(p, side, q) for p, q in zip(in_money, pa, strict=True))
            for r in range(1, len(in_money) + 1):
                for subset in combinations(in_money, r):
                    bound = free + sum(p.gas_quote for p in subset)
                    can_fill_more = best_amount < lots
                    if bound >= best_cost - 1e-9 and not can_fill_more:
                        continue
                    total, units, _, exact = solve(list(subset))
                    amount = sum(units)
                    if amount > best_amount or (amount == best_amount and total < best_cost - 1e-9):
                        best_cost, best_units, best_subset, best_amount = total, units, list(subset), amount
                        best_exact = exact
    legs = []
    if best_exact is not None:  # costs and worst levels straight from the continuous solution
        c_cost, taken = best_exact
        depth_used = (taken > 0).sum(axis=1)
    for j in range(nv):
        if best_units[j]:
            q = best_units[j] * lot
            if best_exact is not None:
                legs.append(
                    Leg(book.venues[j], "cex", q, float(c_cost[j]), float(book.raw[j, depth_used[j] - 1]))
                )
            else:
                legs.append(Leg(book.venues[j], "cex", q, book.venue_cost(j, q), book.worst_price(j, q)))
    for k, p in enumerate(best_subset):
        u = best_units[nv + k]
        if u:
            q = u * lot
            c = pool_cost(p, side, q) + p.gas_quote
            legs.append(Leg(p.venue, "amm", q, c, abs(pool_cost(p, side, q)) / q))
    return RoutePlan(side, quantity, best_amount * lot, best_cost, legs)
