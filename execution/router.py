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

The consolidated book depends only on the books' contents, the side and the lot, not on the order:
it is memoised by content, so the many decisions made between two refreshes of the same books
(the service refreshes a few times a second and decides hundreds of times) skip the merge.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np

from execution.amm.concentrated import ConcentratedPoolInput
from execution.venues.base import Side

_EPS = 1e-12
_INF = math.inf


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


class _Consolidated:
    """The CEX side of a decision, limit aside: (venue x level) matrices in cost space, lot-rounded,
    and every level merged into one book sorted by cost."""

    __slots__ = ("venues", "depth", "raw", "cost", "amount", "sorted_cost", "sorted_amount", "sorted_value",
                 "sorted_venue", "sorted_cum", "order", "n_finite", "given", "raw_flat", "_cum_amount", "_rows")  # fmt: skip

    def __init__(self, cex: list[CexInput], side: Side, lot: float):
        nv = len(cex)
        depths = [len(c.levels) for c in cex]
        d = max(depths, default=0)
        padded = bool(depths) and min(depths) != d
        if not padded and d:
            levels = np.concatenate([c.levels for c in cex])
            raw, amount = levels[:, 0].reshape(nv, d), levels[:, 1] * (1 / lot)
        else:
            raw, amount = np.full((nv, d), np.nan), np.zeros((nv, d))
            for i, c in enumerate(cex):
                raw[i, : len(c.levels)], amount[i, : len(c.levels)] = c.levels[:, 0], c.levels[:, 1]
            amount = amount.ravel() * (1 / lot)
        amount += 1e-9
        np.floor(amount, out=amount)
        amount *= lot  # whole lots only
        fees = [1.0 + c.fee for c in cex] if side is Side.BUY else [c.fee - 1.0 for c in cex]
        cost = raw * np.array(fees).reshape(nv, 1)
        if padded:
            cost[np.isnan(cost)] = _INF  # padding sorts last and is never taken
        flat = cost.ravel()
        order = flat.argsort(kind="stable")
        self.sorted_cost = sorted_cost = flat[order]
        self.sorted_amount = sorted_amount = amount[order]
        if padded:  # padding costs inf and has no amount
            self.sorted_value = sorted_amount * np.where(sorted_amount > 0, sorted_cost, 0.0)
        else:
            self.sorted_value = sorted_amount * sorted_cost
        self.order, self.sorted_venue = order, order // d if d else order
        self.sorted_cum = sorted_amount.cumsum()
        self.venues, self.depth, self.raw, self.cost = tuple(c.venue for c in cex), d, raw, cost
        self.amount, self.raw_flat = amount.reshape(nv, d), raw.ravel()
        self.n_finite = int(sorted_cost.searchsorted(_INF)) if padded else len(order)
        self.given = self._cum_amount = self._rows = None

    def remember(self) -> _Consolidated:
        """Precompute, for a book that many decisions will read, what each venue has given at each
        point of the merged book and the deepest of its levels taken so far."""
        n, nv = len(self.sorted_cost), len(self.venues)
        at = (np.arange(n), self.sorted_venue)
        amount, value, deepest = np.zeros((n, nv)), np.zeros((n, nv)), np.full((n, nv), -1)
        amount[at], value[at] = self.sorted_amount, self.sorted_value
        deepest[at] = np.where(self.sorted_amount > 0, self.order, -1)  # flat index of a level with lots
        self.given = (amount.cumsum(axis=0), value.cumsum(axis=0), np.maximum.accumulate(deepest, axis=0))
        return self

    def taken(self, take_n: int) -> tuple[list[float], list[float], list[int] | None]:
        """(amount, cost, deepest level's flat index or None) per venue once the first ``take_n``
        merged levels are taken."""
        nv = len(self.venues)
        if not take_n:
            return [0.0] * nv, [0.0] * nv, [-1] * nv
        if self.given is not None:
            amount, value, deepest = self.given
            return amount[take_n - 1].tolist(), value[take_n - 1].tolist(), deepest[take_n - 1].tolist()
        venue = self.sorted_venue[:take_n]
        amounts = np.bincount(venue, self.sorted_amount[:take_n], nv)
        return amounts.tolist(), np.bincount(venue, self.sorted_value[:take_n], nv).tolist(), None

    def cum_amount(self) -> np.ndarray:
        if self._cum_amount is None:
            self._cum_amount = self.amount.cumsum(axis=1)
        return self._cum_amount

    def rows(self, i: int) -> tuple[list, list, list]:
        """Venue ``i``'s cumulative amount, cumulative cost and level cost, as lists (for bisect)."""
        if self._rows is None:
            self._rows = [None] * len(self.venues)
        row = self._rows[i]
        if row is None:
            cost = self.cost[i]
            value = self.amount[i] * np.where(self.amount[i] > 0, cost, 0.0)
            row = self._rows[i] = (self.cum_amount()[i].tolist(), value.cumsum().tolist(), cost.tolist())
        return row


_MEMO: dict[tuple, tuple[tuple, _Consolidated]] = {}
_MEMO_SIZE = 64


def _consolidate(cex: list[CexInput], side: Side, lot: float) -> _Consolidated:
    """The consolidated book; read-only books (immutable snapshots) are consolidated once."""
    key: tuple = (side, lot)
    for c in cex:
        if c.levels.flags.writeable:
            return _Consolidated(cex, side, lot)
        key += (c.venue, c.fee, id(c.levels))
    hit = _MEMO.get(key)
    if hit is not None:
        for held, c in zip(hit[0], cex, strict=True):
            if held is not c.levels:
                break
        else:
            return hit[1]
    consolidated = _Consolidated(cex, side, lot)
    if cex:
        consolidated.remember()
        if len(_MEMO) >= _MEMO_SIZE:
            _MEMO.pop(next(iter(_MEMO)), None)
        _MEMO[key] = (tuple(c.levels for c in cex), consolidated)  # held: their ids stay theirs
    return consolidated


class _Book:
    """The consolidated book under one decision's limit: how many merged levels and, per venue, how
    many of its levels may be taken."""

    __slots__ = ("c", "venues", "n", "limit_depth")

    def __init__(self, c: _Consolidated, lam_max: float):
        self.c, self.venues = c, c.venues
        n = c.n_finite
        if math.isfinite(lam_max) and n and c.sorted_cost[n - 1] > lam_max:
            n = int(c.sorted_cost[:n].searchsorted(lam_max, side="right"))
            self.limit_depth = (c.cost <= lam_max).sum(axis=1).tolist()
        else:
            self.limit_depth = None
        self.n = n

    def venue_cost(self, i: int, q: float) -> float:
        """Cost of taking ``q`` from venue ``i``'s book (inf beyond its depth within the limit)."""
        if q <= _EPS:
            return 0.0
        cum, cum_cost, cost = self.c.rows(i)
        k = bisect_left(cum, q - 1e-12)
        if k >= (self.c.depth if self.limit_depth is None else self.limit_depth[i]):
            return _INF
        if k == 0:
            return q * cost[0]
        return cum_cost[k - 1] + (q - cum[k - 1]) * cost[k]

    def worst_price(self, i: int, q: float) -> float:
        k = int(self.c.cum_amount()[i].searchsorted(q - 1e-12))
        return float(self.c.raw[i, min(k, self.c.depth - 1)])


def _pool_start(p: PoolInput, side: Side) -> float:
    """Marginal cost of a pool's first unit: below it the pool gives nothing."""
    if type(p) is ConcentratedPoolInput:
        return p.start(side)
    if side is Side.BUY:
        return p.quote_reserve / (p.base_reserve * (1 - p.fee))
    return -p.quote_reserve * (1 - p.fee) / p.base_reserve


def _pool_amount(p: PoolInput, side: Side, lam: float) -> float:
    """A pool's amount when its marginal cost is ``lam`` (0 below its starting price), capped."""
    if type(p) is ConcentratedPoolInput:
        return p.amount(side, lam)
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
    if type(p) is ConcentratedPoolInput:
        return p.cost(side, q)
    y, x, f = p.base_reserve, p.quote_reserve, p.fee
    if q > p.max_fraction * y + 1e-9:
        return _INF
    if side is Side.BUY:
        return x * q / ((y - q) * (1 - f))
    return -x * (1 - f) * q / (y + (1 - f) * q)


def _pool_bounds(p: PoolInput, side: Side) -> tuple[float, float]:
    """(marginal cost of the first unit, marginal cost where the pool hits its cap)."""
    if type(p) is ConcentratedPoolInput:
        return p.bounds(side)
    y, x, f = p.base_reserve, p.quote_reserve, p.fee
    cap = p.max_fraction * y
    if side is Side.BUY:
        return x / (y * (1 - f)), x * y / ((1 - f) * (y - cap) ** 2)
    return -x * (1 - f) / y, -x * y * (1 - f) / (y + (1 - f) * cap) ** 2


def _state(p: PoolInput | ConcentratedPoolInput, side: Side, lam: float, bounds: tuple[float, float]):
    """(curve index, 0) when ``lam`` is on one of the pool's curves, else (-1, its fixed amount there)."""
    if type(p) is ConcentratedPoolInput:
        return p.state(side, lam)
    start, cap_lam = bounds
    if lam >= cap_lam:
        return -1, p.max_fraction * p.base_reserve
    return (0, 0.0) if lam > start else (-1, 0.0)


def _curve(p: PoolInput | ConcentratedPoolInput, side: Side, k: int) -> tuple[float, float, float]:
    """(quote reserve, base reserve, amount given before this curve) of curve ``k``."""
    if type(p) is ConcentratedPoolInput:
        return p.curve(side, k)
    return p.quote_reserve, p.base_reserve, 0.0


def _closed_form(active: list[tuple[float, float, float, float]], side: Side, rest: float) -> float:
    """Marginal cost at which constant-product curves (x, y, fee, amount before) give ``rest`` together."""
    if side is Side.BUY:
        s = sum(math.sqrt(x * y / (1 - f)) for x, y, f, _ in active)
        denom = sum(y + before for _, y, _, before in active) - rest
        return (s / denom) ** 2 if denom > 0 else _INF
    s = sum(math.sqrt(x * y * (1 - f)) / (1 - f) for x, y, f, _ in active)
    denom = rest + sum(y / (1 - f) - before for _, y, f, before in active)
    return -((s / denom) ** 2) if denom > 0 else -_INF


def _solve_pools(pools: list, side: Side, need: float, lo: float, hi: float) -> float:
    """The marginal cost in [lo, hi] at which the pools together give ``need`` (hi if they cannot)."""
    if not pools or need <= 0:
        return lo
    if sum(_pool_amount(p, side, hi) for p in pools) <= need + 1e-12:
        return hi
    bounds = [_pool_bounds(p, side) for p in pools]
    a = max(lo, min(b[0] for b in bounds))
    b = min(hi, max(b[1] for b in bounds))

    def states(lam: float) -> list[tuple[int, float]]:
        return [_state(p, side, lam, bd) for p, bd in zip(pools, bounds, strict=True)]

    for _ in range(80):
        mid = 0.5 * (a + b)
        st = states(mid)
        active = [(*_curve(p, side, k)[:2], p.fee, _curve(p, side, k)[2])
                  for p, (k, _) in zip(pools, st, strict=True) if k >= 0]  # fmt: skip
        if active:
            lam = _closed_form(active, side, need - sum(fixed for _, fixed in st))
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
    """Gas-free continuous optimum over the book and ``pools``: (cex amounts, cex costs, pool amounts, lam,
    per venue the flat index of its deepest level taken when known)."""
    c, n = book.c, book.n
    cs, cum = c.sorted_cost, c.sorted_cum
    # the CEX levels alone cross the order size at merged level i0; pools can only bring that forward,
    # and only to a level whose cost is above some pool's starting price
    i = i0 = int(cum[:n].searchsorted(qty - 1e-12)) if n else 0
    m = min(i0 + 1, n)
    pools_at = 0.0
    if pools and m:
        start = min(_pool_start(p, side) for p in pools)
        if cs[m - 1] > start:
            lo = int(cs[:m].searchsorted(start, side="right"))  # first level some pool competes with
            hi = m - 1 if i0 < n else m  # F(hi) >= qty is known when i0 < n
            while lo < hi:  # the first level i where its cumulative amount plus the pools' reaches qty
                mid = (lo + hi) // 2
                if float(cum[mid]) + sum(_pool_amount(p, side, float(cs[mid])) for p in pools) >= qty - 1e-12:
                    hi = mid
                else:
                    lo = mid + 1
            i = lo
            if i < n:
                pools_at = sum(_pool_amount(p, side, float(cs[i])) for p in pools)
    partial_amt = 0.0
    if i >= n:  # the whole book within the limit, pools for the rest
        take_n = n
        lo_lam = float(cs[n - 1]) if n else -_INF if side is Side.SELL else 0.0
        lam = _solve_pools(pools, side, qty - (float(cum[n - 1]) if n else 0.0), lo_lam, lam_max)
    else:
        before = float(cum[i - 1]) if i else 0.0
        take_n = i
        if before + pools_at >= qty - 1e-12:  # lam strictly inside (cs[i-1], cs[i])
            lo_lam = float(cs[i - 1]) if i else (-_INF if side is Side.SELL else 0.0)
            lam = _solve_pools(pools, side, qty - before, lo_lam, float(cs[i]))
        else:  # lam is level i's cost; level i partly taken
            lam = float(cs[i])
            partial_amt = qty - before - pools_at
    amounts, costs, deepest = c.taken(take_n)
    if partial_amt:
        v = int(c.sorted_venue[i])
        amounts[v] += partial_amt
        costs[v] += partial_amt * lam
        if deepest is not None:  # deeper than any level of that venue taken before it
            deepest[v] = int(c.order[i])
    pool_amts = [_pool_amount(p, side, lam) for p in pools] if math.isfinite(lam) else [0.0] * len(pools)
    return amounts, costs, pool_amts, lam, deepest


def _discrete(book: _Book, pools: list[PoolInput], side: Side, lots: int, lot: float, cex, pool_amts):
    """Whole-lot optimum from the continuous one: fill the shortfall, then exchange lots while it pays."""
    nv = len(book.venues)
    amounts = cex + pool_amts
    units = [int(math.floor(q / lot + 1e-6)) for q in amounts]
    total = sum(units)
    if total > lots:  # continuous rounding noise
        units[units.index(max(units))] -= total - lots
        total = lots
    if total == lots:
        for u, q in zip(units, amounts, strict=True):
            if abs(u * lot - q) > 1e-9 * max(1.0, q):
                break
        else:
            return units, True
    venue_cost = book.venue_cost

    def cost(j: int, u: int) -> float:
        if u < 0:
            return _INF
        return venue_cost(j, u * lot) if j < nv else pool_cost(pools[j - nv], side, u * lot)

    cur = [cost(j, u) for j, u in enumerate(units)]
    up = [cost(j, u + 1) - cur[j] for j, u in enumerate(units)]
    down = [cur[j] - cost(j, u - 1) if u > 0 else -_INF for j, u in enumerate(units)]

    def refresh(j: int) -> None:
        cur[j] = cost(j, units[j])
        up[j] = cost(j, units[j] + 1) - cur[j]
        down[j] = cur[j] - cost(j, units[j] - 1) if units[j] > 0 else -_INF

    short = lots - total
    while short > 0 and up:  # no venue at all (pools only, none chosen yet): nothing to fill with
        j = up.index(min(up))
        if not math.isfinite(up[j]):
            break
        units[j] += 1
        short -= 1
        refresh(j)
    for _ in range(4 * len(units) + 8 if units else 0):
        j = up.index(min(up))
        i = down.index(max(down))
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
        lam_max = _INF if limit_price is None else limit_price
    else:  # selling: cost is minus the price received, never above zero
        lam_max = -max(limit_price or 0.0, 1e-12)
    lots = int(round(quantity / lot))
    qty = lots * lot
    book = _Book(_consolidate(list(cex), side, lot), lam_max)
    pools = list(pools)
    nv = len(book.venues)
    solved: dict[tuple[int, ...], tuple] = {}

    def continuous(subset: tuple[int, ...]):
        if subset not in solved:
            solved[subset] = _continuous(book, [pools[k] for k in subset], side, qty, lam_max)
        return solved[subset]

    def solve(subset: tuple[int, ...]):
        members = [pools[k] for k in subset]
        c_amounts, c_costs, pa, lam, deepest = continuous(subset)
        units, exact = _discrete(book, members, side, lots, lot, c_amounts, pa)
        total = sum(c_costs) if exact else sum(book.venue_cost(j, units[j] * lot) for j in range(nv))
        for k, p in enumerate(members):
            if units[nv + k]:
                total += pool_cost(p, side, units[nv + k] * lot) + p.gas_quote
        return total, units, lam, (c_costs, deepest) if exact else None

    best_cost, best_units, lam, best_exact = solve(())
    best_subset: tuple[int, ...] = ()
    best_amount = sum(best_units)
    if pools:
        at = min(lam, lam_max) if best_amount == lots else lam_max
        in_money = tuple(k for k, p in enumerate(pools) if _pool_amount(p, side, at) > 0)
        if in_money and best_amount >= lots:
            # a cheap lower bound first: a pool unit costs at least the pool's starting price and
            # displaces a CEX unit that cost at most lam, and a pool gives at most its amount at lam
            cex_cost = sum(continuous(())[1])
            saving = sum(min(_pool_amount(pools[k], side, lam), qty) * (lam - _pool_start(pools[k], side))
                         for k in in_money)  # fmt: skip
            if cex_cost - saving + min(pools[k].gas_quote for k in in_money) >= best_cost - 1e-9:
                in_money = ()
        if in_money:
            # lower bound for any subset: gas-free continuous optimum with every pool in the money
            _, c_costs, pa, _, _ = continuous(in_money)
            free = sum(c_costs) + sum(pool_cost(pools[k], side, q) for k, q in zip(in_money, pa, strict=True))
            for r in range(1, len(in_money) + 1):
                for subset in combinations(in_money, r):
                    bound = free + sum(pools[k].gas_quote for k in subset)
                    if bound >= best_cost - 1e-9 and best_amount >= lots:
                        continue
                    total, units, _, exact = solve(subset)
                    amount = sum(units)
                    if amount > best_amount or (amount == best_amount and total < best_cost - 1e-9):
                        best_cost, best_units, best_subset, best_amount = total, units, subset, amount
                        best_exact = exact
    legs = []
    raw = book.c.raw_flat
    for j in range(nv):
        if best_units[j]:
            q = best_units[j] * lot
            if best_exact is None:
                legs.append(Leg(book.venues[j], "cex", q, book.venue_cost(j, q), book.worst_price(j, q)))
            else:
                costs, deepest = best_exact
                worst = book.worst_price(j, q) if deepest is None else float(raw[deepest[j]])
                legs.append(Leg(book.venues[j], "cex", q, costs[j], worst))
    for k, idx in enumerate(best_subset):
        u = best_units[nv + k]
        if u:
            p = pools[idx]
            q = u * lot
            pc = pool_cost(p, side, q)
            legs.append(Leg(p.venue, "amm", q, pc + p.gas_quote, abs(pc) / q))
    return RoutePlan(side, quantity, best_amount * lot, best_cost, legs)
