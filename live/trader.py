"""What the loop does with each closed bar: predict with the promoted model, queue the signals.

A prediction is traded (queued as a signal) only when its bar has no gap, the model is not stale,
and the bar is after the newest bar already in the outbox (a restarted loop replays bars to warm
its windows, but never trades one twice). Every prediction is kept with its stage times, traded
or not, and why not.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime

from live.clock import Clock
from live.events import BarFeatures
from live.model import FeatureWindows, Prediction, PromotedModel
from live.signals import Outbox, SignalSender


@dataclass(frozen=True)
class Decision:
    prediction: Prediction
    traded: bool
    reason: str | None  # why not traded
    stages: dict[str, float] = field(default_factory=dict)


class Trader:
    def __init__(
        self,
        model: PromotedModel,
        windows: FeatureWindows,
        outbox: Outbox,
        sender: SignalSender | None,
        clock: Clock,
    ) -> None:
        self.model, self.windows, self.outbox, self.sender, self.clock = model, windows, outbox, sender, clock
        self.resume_after: datetime | None = outbox.last_bar()
        self.decisions: list[Decision] = []

    async def on_bar(self, bars: list[BarFeatures]) -> None:
        if await asyncio.to_thread(self.model.refresh) and self.model.loaded is not None:
            m = self.model.loaded.model
            self.windows.reshape(list(m.feature_names), m.seq_len)
        if not bars:
            return
        bar_time = bars[0].bar_time
        gaps = {b.asset: b.gap for b in bars}
        for bar in bars:
            self.windows.add(bar.asset, bar.bar_time, bar.values)
        predictions = self.model.predict(self.windows.complete(bar_time), bar_time)
        predicted = self.clock.monotonic()
        queued_any = False
        for p in predictions:
            reason = gaps.get(p.asset) or p.stale
            if reason is None and self.resume_after is not None and bar_time <= self.resume_after:
                reason = f"bar {bar_time} was already signalled before a restart (outbox up to {self.resume_after})"
            traded = reason is None and self.outbox.put(p, self.clock.now())
            if reason is None and not traded:
                reason = "already queued"
            queued_any |= traded
            stages = {**bars[0].stages, "predicted": predicted, "queued": self.clock.monotonic()}
            self.decisions.append(Decision(p, traded, reason, stages))
        if queued_any and self.sender is not None:
            self.sender.wake()
