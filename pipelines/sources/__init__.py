"""Source adapters: one interface per family (base.py), implementations chosen by the config."""

from __future__ import annotations

from kimera.config import KimeraConfig
from pipelines.sources.base import ChainSource, DexSource, ExchangeSource, LendingSource


class Sources:
    """The three source families: given ones (``Sources(exchange, chain, dex)``), or built from a
    config on first use (``make_sources(config)``: an exchange ingest never dials the RPC)."""

    def __init__(
        self,
        exchange: ExchangeSource | None = None,
        chain: ChainSource | None = None,
        dex: DexSource | None = None,
        lending: LendingSource | None = None,
        *,
        config: KimeraConfig | None = None,
    ) -> None:
        self.config = config
        self._given = {"exchange": exchange, "chain": chain, "dex": dex}
        if config is None and None in self._given.values():
            missing = [name for name, source in self._given.items() if source is None]
            raise TypeError(
                f"Sources needs exchange, chain and dex, or a config to build them; missing {missing}"
            )
        # lending is optional when the families are given: no markets then (see NoLending)
        self._given["lending"] = lending if lending is not None or config is not None else NoLending(chain)

    def _get(self, family: str, build):
        if self._given[family] is None:
            self._given[family] = build(self.config)
        return self._given[family]

    @property
    def exchange(self) -> ExchangeSource:
        return self._get("exchange", _exchange)

    @property
    def chain(self) -> ChainSource:
        return self._get("chain", _chain)

    @property
    def dex(self) -> DexSource:
        return self._get("dex", _dex)

    @property
    def lending(self) -> LendingSource:
        return self._get("lending", _lending)


def make_sources(config: KimeraConfig) -> Sources:
    """The sources the config asks for (``exchange.source``, ``chain.source``, ``dex.source``).

    Switching a ``source:`` key in kimera.yaml is the only change needed to move between the
    simulator and a live source. Each family is built when first used.
    """
    return Sources(config=config)


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


class NoLending:
    """No lending markets: empty tables (the given sources' chain names them)."""

    def __init__(self, chain: ChainSource | None) -> None:
        self._chain = chain

    def chain(self) -> str:
        return self._chain.chain() if self._chain is not None else ""

    def markets(self) -> list[str]:
        return []

    def events(self, start, end):
        from kimera.schema import LENDING_EVENTS

        return LENDING_EVENTS.empty()

    def reserves(self, start, end):
        from kimera.schema import LENDING_RESERVES

        return LENDING_RESERVES.empty()


def _lending(config: KimeraConfig) -> LendingSource:
    if config.lending.source == "sim":
        from pipelines.sources.sim import SimLendingSource

        return SimLendingSource(config)
    if config.lending.source == "rpc":
        from pipelines.sources.lending import RpcLendingSource

        return RpcLendingSource(config)
    raise ValueError(f"lending.source {config.lending.source!r} has no adapter")
