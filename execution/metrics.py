"""Prometheus metrics of one service: latency per stage, orders by state, refusals by reason."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

STAGES = ("intake", "sizing", "risk", "route", "journal", "venue_place", "signal_to_ack")
_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class _OrdersByState:
    def __init__(self, counts: Callable[[], dict[str, int]]):
        self.counts = counts

    def collect(self):
        family = GaugeMetricFamily("kimera_execution_orders", "Child orders by state", labels=["state"])
        for state, n in sorted(self.counts().items()):
            family.add_metric([state], n)
        yield family


class Metrics:
    def __init__(self, order_counts: Callable[[], dict[str, int]]):
        self.registry = CollectorRegistry()
        self.stage = Histogram(
            "kimera_execution_stage_seconds", "Latency of each stage", ["stage"], buckets=_BUCKETS,
            registry=self.registry,
        )  # fmt: skip
        self.refusals = Counter(
            "kimera_execution_refusals", "Orders refused, by reason", ["reason"], registry=self.registry
        )
        self.signals = Counter(
            "kimera_execution_signals", "Signals by outcome", ["outcome"], registry=self.registry
        )
        self.fills = Counter(
            "kimera_execution_fills", "Fills recorded, by venue", ["venue"], registry=self.registry
        )
        self.venue_errors = Counter(
            "kimera_execution_venue_errors", "Venue call failures", ["venue", "error"], registry=self.registry
        )
        self.switch = Gauge(
            "kimera_execution_kill_switch", "1 for the current state", ["state"], registry=self.registry
        )
        self.registry.register(_OrdersByState(order_counts))
        self._stages = {s: self.stage.labels(s) for s in STAGES}  # labels() is slow on the hot path

    def observe(self, stage: str, seconds: float) -> None:
        self._stages[stage].observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
