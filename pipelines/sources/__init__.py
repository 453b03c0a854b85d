"""Source adapters: one interface per family (base.py), implementations chosen by the config."""

from __future__ import annotations

from dataclasses import dataclass

from kimera.config import KimeraConfig
from pipelines.sources.base import ChainSource, DexSource, ExchangeSource


@dataclass(frozen=True)
class Sources:
    exchange: ExchangeSource
    chain: ChainSource
    dex: DexSource


def make_sources(config: KimeraConfig) -> Sources:
    """The sources the config asks for (``exchange.source``, ``chain.source``, ``dex.source``)."""
    return Sources(
        exchange=_exchange(config),
        chain=_chain(config),
        dex=_dex(config),
    )


def _exchange(config: KimeraConfig) -> ExchangeSource:
    if config.exchange.source == "sim":
        from pipelines.sources.sim import SimExchangeSource

        return SimExchangeSource(config)
    raise ValueError(f"exchange.source {config.exchange.source!r} has no adapter yet")


def _chain(config: KimeraConfig) -> ChainSource:
    if config.chain.source == "sim":
        from pipelines.sources.sim import SimChainSource

        return SimChainSource(config)
    raise ValueError(f"chain.source {config.chain.source!r} has no adapter yet")


def _dex(config: KimeraConfig) -> DexSource:
    if config.dex.source == "sim":
        from pipelines.sources.sim import SimDexSource

        return SimDexSource(config)
    raise ValueError(f"dex.source {config.dex.source!r} has no adapter yet")
