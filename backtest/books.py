"""Which book a backtest decision is sized for: the strategy the execution service would give it.

The service's desk (``execution.accounts.desk``) sizes a signal for the first configured strategy
that takes its model tag, horizon and asset, with that strategy's sizing, its share of the
account's capital, and the account's risk limits. A backtest compared with a paper or live
journal must size the same way, or it trades other quantities from the first bar on. With no
``execution.accounts``/``strategies`` configured, the service's implicit default account and
strategy are ``execution.sizing`` and ``execution.risk``, and so is the backtest's book.
"""

from __future__ import annotations

from dataclasses import dataclass

from kimera.config import ExecutionRisk, ExecutionSizing, KimeraConfig


@dataclass(frozen=True)
class Book:
    name: str
    sizing: ExecutionSizing  # capital is the strategy's share of its account's capital
    risk: ExecutionRisk  # the account's limits


def book_for(config: KimeraConfig, asset: str, model_tag: str | None, horizon: int | None) -> Book:
    """The book a signal of ``asset`` by ``model_tag`` at ``horizon`` is sized for (as the desk's
    ``strategy_for``); ValueError naming the strategies when none takes it."""
    ex = config.execution
    if not ex.strategies:
        account = ex.accounts[0] if ex.accounts else None
        capital = account.capital if account is not None else ex.sizing.capital
        risk = account.risk if account is not None else ex.risk
        return Book("default", ex.sizing.model_copy(update={"capital": capital}), risk)
    accounts = {a.name: a for a in ex.accounts}
    for s in ex.strategies:
        if (
            (s.model_tag is None or str(model_tag or "").startswith(s.model_tag))
            and (s.horizon is None or s.horizon == horizon)
            and (s.assets is None or asset in s.assets)
        ):
            account = accounts.get(s.account)
            capital = (account.capital if account is not None else ex.sizing.capital) * s.capital_share
            risk = account.risk if account is not None else ex.risk
            return Book(s.name, s.sizing.model_copy(update={"capital": capital}), risk)
    raise ValueError(
        f"no strategy of execution.strategies takes model_tag {model_tag!r} horizon {horizon!r} asset "
        f"{asset!r}; strategies: {sorted(s.name for s in ex.strategies)}"
    )
