"""A desk on an in-process paper venue and a real journal, for the accounts tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from execution.accounts.desk import Desk
from execution.accounts.paper import PaperDesk
from execution.journal import Journal
from execution.journal_reader import JournalReader
from execution.venues.books import SyntheticMarket, VenueShape
from execution.venues.matching import PaperExchange, PaperVenueSpec
from kimera.config import ExecutionConfig
from kimera.settings import Settings

T0 = 1_780_000_000.0
PAIRS = {"BTC": "BTC/USDT", "ETH": "ETH/USDT"}


@contextmanager
def paper_desk(url: str, execution: dict[str, Any], settings: Settings | None = None) -> Iterator[PaperDesk]:
    """A desk for ``execution`` (the kimera.yaml section) trading on a deep paper venue, journaled at ``url``."""
    market = SyntheticMarket(seed=3, venues={"alpha": VenueShape(depth_notional=5_000_000)})
    spec = PaperVenueSpec("alpha", fee=0.001, latency_s=0.02, rate_limit_per_s=1e6)
    venue = PaperExchange(market, [spec], seed=3).venue("alpha")
    desk = Desk(ExecutionConfig(**execution), {s: spec.rules(s) for s in spec.symbols}, PAIRS, settings)
    journal = Journal(url)
    journal.open()
    try:
        yield PaperDesk(desk, venue, journal)
    finally:
        journal.close()


def signal(sid: str, asset: str = "BTC", forecast: float = 0.003, **extra: Any) -> dict[str, Any]:
    """A confident long signal (or flat with ``forecast=0``), as the service's API takes it."""
    body = {"signal_id": sid, "asset": asset, "model_tag": "kimera-lstm:t", "prediction_id": sid,
            "feature_time": "2026-04-01T00:00:00", "horizon": 1, "forecast": forecast,
            "lower": forecast - 0.005, "upper": forecast + 0.005, "p_up": 0.6}  # fmt: skip
    body.update(extra)
    return body


def rows(url: str, sql: str, params: tuple = ()) -> list[tuple]:
    reader = JournalReader(url)
    try:
        return reader.rows(sql, params)
    finally:
        reader.close()
