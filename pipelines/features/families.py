"""Feature families: which raw tables each group of ``marts.features`` columns needs.

A user may have candles only, or candles and trades, or everything. dbt builds every model from
the raw tables of the contract (``kimera.schema``); a table the user never filled is created empty
from that contract (:func:`prepare_raw_tables`), so the models build and the columns of a family
whose inputs are absent are NULL. :func:`family_presence` says which families have their inputs,
for the features asset's metadata (the Dagster UI) and the commands' summaries; the models then
drop the NULL columns with a message naming them (``models.columns``).
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from kimera.schema import RAW_TABLES
from pipelines.warehouse import ensure_raw_schema


@dataclass(frozen=True)
class FeatureFamily:
    """A group of feature columns and the raw tables (with rows) they are computed from."""

    name: str
    tables: tuple[str, ...]
    columns: tuple[str, ...]  # ``ret_*`` stands for every configured return lag
    min_venues: int = 1  # distinct venues of candles needed (cross-venue: two)


FAMILIES: tuple[FeatureFamily, ...] = (
    FeatureFamily(
        "technical",
        ("exchange_ohlcv",),
        (
            "ret_*",
            "realized_vol_bar",
            "realized_vol",
            "rsi",
            "macd_rel",
            "macd_signal_rel",
            "macd_hist_rel",
            "atr_rel",
            "bb_pct_b",
            "volume_z",
        ),
    ),  # fmt: skip
    # microstructure, in two parts: a user may have trades without books
    FeatureFamily("microstructure_trades", ("exchange_trades",), ("vwap_dev", "taker_buy_ratio")),
    FeatureFamily(
        "microstructure_books",
        ("order_book_snapshots",),
        ("book_imbalance", "spread_bps", "consolidated_spread_bps"),
    ),
    FeatureFamily("cross_venue", ("exchange_ohlcv",), ("dispersion_bps",), min_venues=2),
    FeatureFamily("dex_cex_basis", ("dex_swaps", "dex_pools"), ("dex_cex_basis_bps",)),
    FeatureFamily(
        "on_chain",
        ("chain_blocks", "token_transfers", "tokens"),
        (
            "active_addresses",
            "tx_count",
            "transfer_count",
            "transfer_volume",
            "whale_transfer_count",
            "whale_transfer_volume",
            "exchange_inflow",
            "exchange_outflow",
            "net_exchange_flow",
            "net_exchange_flow_z",
        ),
    ),  # fmt: skip
)


@dataclass(frozen=True)
class FamilyPresence:
    family: FeatureFamily
    missing: tuple[str, ...]  # raw tables (or "a second venue") without rows

    @property
    def present(self) -> bool:
        return not self.missing

    def describe(self) -> str:
        if self.present:
            return f"{self.family.name}: built from {', '.join('raw.' + t for t in self.family.tables)}"
        return f"{self.family.name}: NULL (no rows in {', '.join(self.missing)})"


def prepare_raw_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Create, empty, every raw table of the contract that does not exist yet; the names created.

    dbt's sources name every raw table; a user who imported candles only has one of them.
    """
    before = set(_existing(con))
    ensure_raw_schema(con)
    return sorted(f"raw.{t}" for t in RAW_TABLES if t not in before)


def family_presence(con: duckdb.DuckDBPyConnection) -> list[FamilyPresence]:
    """For each family, the raw tables it needs that hold no rows (none: the family is built)."""
    existing = set(_existing(con))
    filled = {
        t for t in RAW_TABLES if t in existing and con.execute(f"SELECT 1 FROM raw.{t} LIMIT 1").fetchone()
    }
    venues = 0
    if "exchange_ohlcv" in filled:
        venues = con.execute("SELECT count(DISTINCT venue) FROM raw.exchange_ohlcv").fetchone()[0]
    out = []
    for family in FAMILIES:
        missing = [f"raw.{t}" for t in family.tables if t not in filled]
        if not missing and venues < family.min_venues:
            missing.append(f"a second venue (raw.exchange_ohlcv has {venues})")
        out.append(FamilyPresence(family, tuple(missing)))
    return out


def presence_markdown(presence: list[FamilyPresence]) -> str:
    """A table for the Dagster UI: family, raw tables, built or not, columns."""
    lines = ["| family | needs | built | columns |", "| --- | --- | --- | --- |"]
    for p in presence:
        built = "yes" if p.present else f"no: no rows in {', '.join(p.missing)}"
        lines.append(
            f"| {p.family.name} | {', '.join(p.family.tables)} | {built} | {', '.join(p.family.columns)} |"
        )
    return "\n".join(lines)


def _existing(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'raw' AND database_name = current_database()"
    ).fetchall()
    return [r[0] for r in rows]
