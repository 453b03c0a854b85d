"""``kimera live`` against the loopback exchange for minutes of wall time, at 1,000 then 10,000 trades/s.

The soak harness (``bench/_live_soak.py``) runs the loop as it ships (ccxt.pro watchers on 3 Binance
venues x 2 assets of the loopback exchange, 1m bars, the execution service and its paper venues)
for ``MINUTES`` one-minute bars at each rate (``--quick``: 3). Rows: trades received/s against the
exchange's sent/s in the same run, bars traded against bars predicted, tick -> order acked against a
bare loopback websocket round trip measured in the same run. ``python -m bench.live_soak --minutes
10 --rate 1000 --rate 10000`` prints every figure of each run (per stage, CPU and RSS per process,
the Dagster sensor's observation).
"""

from __future__ import annotations

import argparse
import asyncio

import numpy as np

from bench import Measure
from bench._live_soak import describe, run_soak

MINUTES = 10
RATES = (1000.0, 10_000.0)


def measures(r, ws50: float) -> list[Measure]:
    tag = f"{r.streamed_rate:,.0f} trades/s, {r.bars_closed} 1m bars"
    out = [
        Measure(f"trades received/s ({tag})", r.received_per_s, "trades/s", "trades sent/s by the loopback exchange",
                r.sent_per_s, r.received_per_s / r.sent_per_s, "ratio >= 0.99", r.received_per_s >= 0.99 * r.sent_per_s),
        Measure(f"bars traded ({tag}; {r.late_trades} late trades)", r.bars_traded, "bars",
                "bars predicted (windows warm)", r.bars_predicted, r.bars_traded / max(r.bars_predicted, 1),
                "every predicted bar traded", r.bars_predicted > 0 and r.bars_traded == r.bars_predicted),
    ]  # fmt: skip
    t = r.latencies_ms.get("tick_to_ack")
    if t:
        out += [
            Measure(f"tick -> order acked p50 ({tag})", t["p50"], "ms", "bare websocket round trip on loopback p50",
                    ws50, t["p50"] / ws50, "<= 20 ms", t["p50"] <= 20),
            Measure(f"tick -> order acked p99 ({tag})", t["p99"], "ms", "bare websocket round trip on loopback p50",
                    ws50, t["p99"] / ws50, "<= 100 ms", t["p99"] <= 100),
        ]  # fmt: skip
    loop_growth = r.rss_mb_end["loop"] - r.rss_mb_start["loop"]
    out.append(Measure(f"loop RSS growth first bar -> end ({tag})", loop_growth, "MB", "loop RSS at the first bar",
                       r.rss_mb_start["loop"], loop_growth / r.rss_mb_start["loop"], "<= 10 %",
                       loop_growth <= 0.1 * r.rss_mb_start["loop"]))  # fmt: skip
    return out


def run(quick: bool = False) -> list[Measure]:
    from bench.live import _ws_round_trips

    out = []
    for rate in RATES:
        result = run_soak(3 if quick else MINUTES, rate, echo=lambda _: None)
        ws50 = float(np.percentile(asyncio.run(_ws_round_trips(550)), 50) * 1e3)
        out += measures(result, ws50)
    return out


def _main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.live_soak", description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=int, default=MINUTES, help="one-minute bars at each rate")
    parser.add_argument(
        "--rate", type=float, action="append", help="total trades/s (repeat for several runs)"
    )
    args = parser.parse_args()
    for rate in args.rate or RATES:
        result = run_soak(args.minutes, rate)
        print("\n".join(describe(result)), flush=True)


if __name__ == "__main__":
    _main()
