"""Ingest of chain and DEX tables, one chain of ``chains:`` after the other.

Each chain is read by its own sources (built from its chain view, see :mod:`kimera.chains`), so its
RPC client, rate limit, log range shrinking, confirmation depth, reorg healing and block coverage
are its own, and its write replaces only its own rows (the scope names the chain). A chain that
fails stops the run before later chains; chains already written stay written, each whole.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import duckdb

from kimera.config import KimeraConfig
from pipelines.ingest.feeds import Feed, ReferenceFeed
from pipelines.ingest.write import IngestReport, OnChunk, ingest_reference, ingest_window
from pipelines.sources import Sources


def per_chain(sources: Sources) -> list[Sources]:
    """Sources for each configured chain (the given ones when the config has a single chain)."""
    config = sources.config
    if config is None or not config.chains:
        return [sources]
    return [Sources(config=view) for view in config.chain_views()]


def feed_sources(feed: Feed, sources: Sources) -> list[Sources]:
    """What ``feed`` reads: exchange tables once, chain tables once per configured chain."""
    return [sources] if feed.family == "exchange" else per_chain(sources)


def chain_configs(config: KimeraConfig, each: list[Sources]) -> list[KimeraConfig]:
    """The config of each of ``per_chain``'s sources (the given one for a single chain)."""
    return [s.config or config for s in each] if len(each) > 1 else [config]


def _merged(reports: list[IngestReport]) -> IngestReport:
    if len(reports) == 1:
        return reports[0]
    scope: dict[str, list] = {}
    for report in reports:
        for key, values in report.scope.items():
            scope.setdefault(key, []).extend(v for v in values if v not in scope.get(key, []))
    last = reports[-1]
    healed = [r.healed for r in reports if r.healed is not None]
    return replace(
        last,
        scope=scope,
        rows_written=sum(r.rows_written for r in reports),
        chunks=sum(r.chunks for r in reports),
        healed="; ".join(map(str, healed)) if healed else None,
    )


def ingest_each_chain(
    con: duckdb.DuckDBPyConnection,
    feed: Feed,
    sources: Sources,
    start: datetime,
    end: datetime,
    chunk: timedelta = timedelta(hours=24),
    on_chunk: OnChunk | None = None,
) -> IngestReport:
    """:func:`~pipelines.ingest.write.ingest_window` for each chain (exchange feeds: once)."""
    each = feed_sources(feed, sources)
    return _merged([ingest_window(con, feed, s, start, end, chunk=chunk, on_chunk=on_chunk) for s in each])


def ingest_reference_each_chain(
    con: duckdb.DuckDBPyConnection, feed: ReferenceFeed, config: KimeraConfig, sources: Sources
) -> IngestReport:
    """:func:`~pipelines.ingest.write.ingest_reference` for each chain, with that chain's config."""
    each = per_chain(sources)
    configs = chain_configs(config, each)
    return _merged([ingest_reference(con, feed, c, s) for c, s in zip(configs, each, strict=True)])
