"""Several EVM chains in one config: ``chains:`` lists them, the first is the primary one.

Every part that reads one chain (the RPC sources, reorg healing, block coverage, the Uniswap venue)
works on a *chain view*: the same config with ``chain`` set to one entry of ``chains`` and
``dex.pools`` cut to the pools on it. So confirmation depth, range shrinking, rate limits and reorg
checks are per chain by construction, and every row carries its chain's name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kimera.config import KimeraConfig


def primary_chain(data: Any) -> Any:
    """Before validation: with ``chains:`` given, ``chain`` becomes its first entry (giving both is an error)."""
    if not isinstance(data, dict) or not data.get("chains"):
        return data
    chains = data["chains"]
    if data.get("chain") not in (None, chains[0] if isinstance(chains, list) else None):  # a dump repeats it
        raise ValueError(
            "give either chain: (one chain) or chains: (a list of chains, the first the primary), not both"
        )
    if not isinstance(chains, list):
        return data  # the field's own validation names the type error
    return {**data, "chain": chains[0]}


def check_pool_chains(config: KimeraConfig) -> None:
    """Chain names (and chain ids, where given) are unique; every pool names a configured chain."""
    chains = config.chains or [config.chain]
    names = [c.name for c in chains]
    if len(set(names)) != len(names):
        raise ValueError(f"chains: names must be unique, got {names}")
    ids = [c.chain_id for c in chains if c.chain_id is not None]
    if len(set(ids)) != len(ids):
        raise ValueError(f"chains: chain_id values must be unique, got {ids}")
    for where, items in (("dex.pools", config.dex.pools), ("lending.markets", config.lending.markets)):
        for item in items:
            if item.chain is not None and item.chain not in names:
                raise ValueError(
                    f"{where}: {item.address} names chain {item.chain!r}; configured chains are {names}"
                )


def chain_views(config: KimeraConfig) -> list[KimeraConfig]:
    """One config per chain (see the module docstring); ``[config]`` when only ``chain`` is given."""
    if not config.chains:
        return [config]
    primary = config.chains[0].name
    views = []
    for chain in config.chains:
        pools = [p for p in config.dex.pools if (p.chain or primary) == chain.name]
        dex = config.dex.model_copy(update={"pools": pools})
        markets = [m for m in config.lending.markets if (m.chain or primary) == chain.name]
        lending = config.lending.model_copy(update={"markets": markets})
        views.append(config.model_copy(update={"chain": chain, "chains": [], "dex": dex, "lending": lending}))
    for view in views:  # the simulator gives every chain the first chain's prices (connect.sim)
        view._world = views[0]
    return views
