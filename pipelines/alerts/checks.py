"""When to alert, as plain functions of what the sensors read: drift of the served model, loop lag.

Each returns the new state (``ok`` / ``drift`` / ``lagging``) and an alert only on the change into
the bad state, so an episode is alerted once, not at every tick.
"""

from __future__ import annotations

from typing import Any

from kimera.alerts import Alert
from kimera.config import KimeraConfig


def drift_alert(
    served: str | None, live_log_loss: float | None, expected_log_loss: float | None, live_bars: int,
    config: KimeraConfig, previous: str | None, now: float,
) -> tuple[str, Alert | None]:  # fmt: skip
    """The served model drifts when its live log loss exceeds its walk-forward one by more than
    ``serving.retrain.max_log_loss_increase`` (the retrain sensor's rule)."""
    limit = config.serving.retrain.max_log_loss_increase
    if served is None or live_log_loss is None or expected_log_loss is None:
        return "ok", None
    if live_log_loss - expected_log_loss <= limit:
        return f"ok:{served}", None
    state = f"drift:{served}"
    if previous == state:
        return state, None
    return state, Alert(
        "drift", f"{served}: live log loss {live_log_loss:.4f} vs {expected_log_loss:.4f} walk-forward", now,
        {"model_tag": served, "live_log_loss": round(live_log_loss, 6), "walk_forward_log_loss": round(expected_log_loss, 6),
         "live_bars": live_bars, "max_log_loss_increase": limit},
    )  # fmt: skip


def loop_lag_alert(
    status: dict[str, Any] | None, age_s: float, config: KimeraConfig, previous: str | None, now: float
) -> tuple[str, Alert | None]:
    """The live loop lags when its last bar is older than ``alerts.loop_lag_s`` when handled, or its
    heartbeat (the status file) has not been written for that long."""
    if status is None:
        return "absent", None
    limit = config.alerts.loop_lag_s
    lag = status.get("lag_s")
    if (lag is None or lag <= limit) and age_s <= limit:
        return "ok", None
    if previous == "lagging":
        return "lagging", None
    why = f"heartbeat {age_s:.0f} s old" if age_s > limit else f"lag {lag:.0f} s"
    return "lagging", Alert(
        "loop_lag", f"live loop lagging: {why} (limit {limit:.0f} s)", now,
        {"lag_s": lag, "heartbeat_age_s": round(age_s, 1), "last_bar": status.get("last_bar"), "limit_s": limit},
    )  # fmt: skip
