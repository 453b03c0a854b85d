"""What flows through the loop, stamped with exchange time (naive UTC).

Feeds yield :class:`RawRows` (rows of a ``raw.*`` table, conformed to ``kimera.schema``) and
:class:`Watermark` (every row with time before ``until`` has been delivered, for every stream the
feed carries). A feed that lost part of a stream says so with :class:`Gap`. The loop turns them
into :class:`BarFeatures`, one per asset and closed bar.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import pyarrow as pa


@dataclass(frozen=True)
class RawRows:
    table: str
    rows: pa.Table
    received: float = 0.0  # clock.monotonic() when the feed got them


@dataclass(frozen=True)
class Watermark:
    until: datetime
    received: float = 0.0


@dataclass(frozen=True)
class Gap:
    """``[start, end)`` of ``venue``/``symbol`` is missing and was not backfilled."""

    venue: str
    symbol: str
    start: datetime
    end: datetime
    reason: str


Event = RawRows | Watermark | Gap


@dataclass(frozen=True)
class BarFeatures:
    """The online feature row of one asset's bar. ``gap`` names why the bar must not be traded."""

    asset: str
    bar_time: datetime
    values: dict[str, float | None]
    gap: str | None = None
    stages: dict[str, float] = field(default_factory=dict)  # stage -> clock.monotonic()

    @property
    def tradeable(self) -> bool:
        return self.gap is None
