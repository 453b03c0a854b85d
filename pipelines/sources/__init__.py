"""Source adapters: one interface per family (base.py), implementations chosen by the config."""

from __future__ import annotations

from functools import cached_property

from kimera.config import KimeraConfig
from pipelines.sources.base import ChainSource, DexSource, ExchangeSource


class Sources:
    """The three source families, each built on first use (an exchange ingest never dials the RPC)."""

    def __init__(self, config: KimeraConfig) -> None:
        self.config = config

    @cached_property
    def exchange(self) -> ExchangeSource:
        return _exchange(self.config)

    @cached_property
    def chain(self) -> ChainSource:
        return _chain(self.config)

    @cached_property
    def dex(self) -> DexSource:
        return _dex(self.config)


def make_sources(config: KimeraConfig) -> Sources:
    """The sources the config asks for (``exchange.source``, ``chain.source``, ``dex.source``).

    Switching a ``source:`` key in kimera.yaml is the only change needed to move between the
    simulator and a live source. Each family is built when first used.
    """
    return Sources(config)


def _exchange(config: KimeraConfig) -> ExchangeSource:
    if config.exchange.source == "sim":
        from pipelines.sources.sim import SimExchangeSource

        return SimExchangeSource(config)
    if config.exchange.source == "ccxt":
        from pipelines.sources.ccxt_exchange import CcxtExchangeSource

        return CcxtExchangeSource(config)
    if config.exchange.source == "file":
        from pipelines.sources.files import FileExchangeSource

        return FileExchangeSource(config)
    raise ValueError(f"exchange.source {config.exchange.source!r} has no adapter")


def _chain(config: KimeraConfig) -> ChainSource:
    if config.chain.source == "sim":
        from pipelines.sources.sim import SimChainSource

        return SimChainSource(config)
    if config.chain.source == "rpc":
        from pipelines.sources.chain_rpc import RpcChainSource

        return RpcChainSource(config)
    raise ValueError(f"chain.source {config.chain.source!r} has no adapter")


def _dex(config: KimeraConfig) -> DexSource:
    if config.dex.source == "sim":
        from pipelines.sources.sim import SimDexSource

        return SimDexSource(config)
    if config.dex.source == "rpc":
        from pipelines.sources.dex_rpc import RpcDexSource

        return RpcDexSource(config)
    raise ValueError(f"dex.source {config.dex.source!r} has no adapter")
