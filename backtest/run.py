"""One backtest: the replay through the live loop, the in-process execution path, the figures.

:func:`run_backtest` composes :class:`~backtest.replay.ReplayFeed` (the warehouse's raw events),
the loop, online features, model and trader of ``kimera live`` (``live/``), and the execution
path of :mod:`backtest.executor` with the fill model of :mod:`backtest.fills`, on a
:class:`~live.clock.TestClock`. Nothing reads the wall clock; the run id is a hash of what the
result depends on (config, model, window, seed, code version, input rows), so the same inputs and
seed give the same id and byte-identical rows.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import shutil
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from backtest.candle_fills import BOOK, CANDLES, CandleFills, venue_fill_models
from backtest.chunked_features import ChunkedFeatures
from backtest.executor import Executor, micros
from backtest.fills import BacktestJournal, BacktestVenues, Fill, Latency, PoolRef, SimOrder
from backtest.market import Market
from backtest.metrics import costs_per_venue, explain, performance, vectorised
from backtest.replay import ReplayFeed, raw_tables, read_only
from execution.venues.matching import PaperVenueSpec
from execution.venues.specs import paper_specs, pool_refs
from kimera.config import TIMEFRAME_SECONDS, ConfigError, KimeraConfig
from kimera.settings import Settings
from live.clock import TestClock
from live.events import Event, Watermark
from live.features import RAW_TIME_COLUMNS, OnlineFeatures
from live.loop import Loop
from live.model import FeatureWindows, PromotedModel
from live.signals import Outbox
from live.trader import Trader

SWAP_GAS_UNITS = 120_000.0  # a Uniswap V2 swap through the router uses about this much gas
CHUNK_BARS = 168  # bars of features per SQL run in a backtest (a week of 1h bars); 1 = the live loop's path


@dataclass
class BacktestResult:
    run: dict[str, Any]  # the ml.backtests row
    orders: list[SimOrder]
    fills: list[Fill]
    equity: pd.DataFrame  # bar_time, equity, exposure
    per_venue: dict[str, dict[str, float]]
    vectorised: dict[str, float] | None
    refusals: list[Any] = field(default_factory=list)
    journal: Path | None = None
    decisions: list[tuple[str, str, datetime]] = field(default_factory=list)  # prediction id, asset, bar


def backtest_dir(settings: Settings) -> Path:
    return settings.home_dir / "backtest"


def measured_latency(settings: Settings) -> tuple[float | None, float | None]:
    """p50/p99 (ms) of tick-to-ack that the last ``kimera live`` measured, when there is one."""
    path = settings.home_dir / "live" / "status.json"
    try:
        q = json.loads(path.read_text())["latency_ms"]["tick_to_ack"]
        return float(q["p50"]), float(q["p99"])
    except (OSError, KeyError, TypeError, ValueError):
        return None, None


def input_partitions(
    warehouse: Path, start: datetime, end: datetime, memory_mb: int | None = None
) -> dict[str, Any]:
    """Per raw table of the window: rows, first and last time and a content hash (what the result
    depends on, so a changed input gives a new run id); ``memory_mb`` caps DuckDB's memory (its
    cache of the pages it scans, which would otherwise hold the whole span's)."""
    out = {}
    with read_only(warehouse, memory_mb) as con:
        present = raw_tables(con)
        for table, column in RAW_TIME_COLUMNS.items():
            if table not in present:
                continue
            n, lo, hi, digest = con.execute(
                f"select count(*), min({column}), max({column}), sum(hash(t)) "
                f"from raw.{table} t where {column} >= ? and {column} < ?",
                [start, end],
            ).fetchone()
            if n:
                out[table] = {"rows": n, "first": str(lo), "last": str(hi), "hash": str(digest)}
    return out


def check_window(config: KimeraConfig, start: datetime, end: datetime) -> timedelta:
    bar = timedelta(seconds=TIMEFRAME_SECONDS[config.features.bar])
    for name, moment in (("--from", start), ("--to", end)):
        if (moment - datetime(1970, 1, 1)) % bar:
            raise ConfigError(f"{name} {moment} is not on the {config.features.bar} bar grid (features.bar)")
    if end <= start:
        raise ConfigError(f"--to {end} must be after --from {start}")
    return bar


def read_window(config: KimeraConfig, bar: timedelta) -> timedelta | None:
    """The replay's read window (``backtest.window_days``), checked to be a whole number of bars."""
    days = config.backtest.window_days
    if days is None:
        return None
    window = timedelta(days=days)
    if window < bar or window % bar:
        raise ConfigError(
            f"backtest.window_days {days:g} ({window}) is not accepted: give a whole number of "
            f"{config.features.bar} bars (features.bar), e.g. {max(bar / timedelta(days=1), 1):g}, or null "
            "to read the span at once"
        )
    return window


def run_id_of(parts: dict[str, Any]) -> str:
    text = json.dumps(parts, sort_keys=True, default=str)
    return "bt-" + hashlib.sha256(text.encode()).hexdigest()[:20]


async def replay(
    settings: Settings,
    config: KimeraConfig,
    compiled: Path,
    start: datetime,
    end: datetime,
    *,
    model_tag: str | None = None,
    seed: int = 7,
    order_style: str = "taker",
    warehouse: Path | None = None,
    code_version: str | None = None,
    trade_from: datetime | None = None,
) -> BacktestResult:
    """Replay ``[start, end)`` of the warehouse through the loop and the execution path; bars before
    ``trade_from`` only warm the features and the model's windows (nothing is traded on them).

    ``compiled`` compiled for one bar runs the features bar by bar as ``kimera live`` does; compiled
    for a window of several bars (``compile_online_features(window_bars=...)``) runs them a chunk at
    a time (:mod:`backtest.chunked_features`), with the same rows."""
    from backtest.model import TaggedModel

    if order_style not in ("taker", "maker"):
        raise ConfigError(f"order style {order_style!r} is not accepted; accepted: taker, maker")
    bar = check_window(config, start, end)
    window = read_window(config, bar)
    warehouse = warehouse or settings.warehouse_path
    partitions = input_partitions(warehouse, start, end, config.backtest.memory_mb)
    if not partitions:
        raise ConfigError(
            f"the warehouse {warehouse} holds no raw rows in [{start}, {end}): ingest them first"
        )
    model = TaggedModel(settings, model_tag) if model_tag else PromotedModel(settings)
    if model_tag is None:
        model.refresh()
        if model.loaded is None:
            raise ConfigError(f"no model to backtest: {model.last_error}; promote one or pass --model TAG")
    if code_version is None:
        from models.registry import code_version as current

        code_version = current()
    p50, p99 = measured_latency(settings)
    # the read window changes what is held in memory, never the result: not part of the run id
    config_text = config.model_dump_json(exclude={"backtest": {"window_days", "memory_mb"}})
    parts = {"config": config_text, "model": model.tag, "start": start, "end": end, "seed": seed,
             "code": code_version, "inputs": partitions, "style": order_style, "latency": [p50, p99],
             "trade_from": trade_from}  # fmt: skip
    run_id = run_id_of(parts)
    folder = backtest_dir(settings) / run_id
    shutil.rmtree(folder, ignore_errors=True)  # a rerun of the same id starts afresh
    folder.mkdir(parents=True)

    market = Market()
    specs = paper_specs(config)
    pools = {}
    token_asset = {t.symbol: t.asset for t in config.chain.tokens}
    for ref in pool_refs(config):
        pool = next(p for p in config.dex.pools if p.address == ref.address)
        pools[ref.name] = PoolRef(ref.address.lower(), token_asset.get(pool.token0) == ref.asset)
    pair = {a.symbol: a.pair for a in config.assets}
    with read_only(warehouse, config.backtest.memory_mb) as con:
        fill_models = venue_fill_models(con, start, end)
    specs += candle_venue_specs(config, fill_models, {s.name for s in specs})
    venues = BacktestVenues(market, specs, pools, SWAP_GAS_UNITS, pair.get("ETH"))
    venues.candle_venues = {v for v, m in fill_models.items() if m == CANDLES}
    if venues.candle_venues:
        market.keep_candles = True
        venues.candles = CandleFills(market, config.backtest.candles)
    journal = BacktestJournal(folder / "journal.jsonl")
    executor = Executor(config, market, venues, Latency(seed, p50, p99), journal, order_style)
    clock = TestClock(start)
    outbox = Outbox(folder / "outbox.sqlite")  # the trader's own, never the live loop's
    outbox.db.execute("pragma synchronous=off")  # a replay is rebuilt from its inputs, not from a crash
    trader = Trader(model, FeatureWindows([], 1, bar), outbox, None, clock)
    if model.loaded is not None:  # loaded above (to refuse a run without a model): shape the windows now
        trader.windows.reshape(list(model.loaded.model.feature_names), model.loaded.model.seq_len)
    if json.loads((compiled / "models.json").read_text()).get("window_bars", 1) > 1:
        features: OnlineFeatures = ChunkedFeatures(
            compiled, warehouse, start, end, config.live.retention_bars, memory_mb=config.backtest.memory_mb
        )
    else:
        features = OnlineFeatures(compiled, retention_bars=config.live.retention_bars)
    equity: list[tuple[datetime, float, float]] = []
    mids: list[tuple[str, datetime, float]] = []

    def decide_pending() -> None:
        # A decision at bar close t is executed once the feed has handed over the rows stamped t:
        # the bar's step is [t - bar, t), so the book snapshot taken at t (the one the paper and
        # live venues quote when the signal arrives) comes with the next step. Every query of the
        # executor is "at or before t", so nothing later than the decision is read.
        for prediction, bar_time in pending:
            before = len(venues.orders)
            executor.decide(prediction, bar_time)
            traded[bar_time] = traded.get(bar_time, 0.0) + sum(
                o.amount * o.arrival_price for o in venues.orders[before:]
            )
        pending.clear()

    def observe(event: Event) -> None:
        market.observe(event)
        if isinstance(event, Watermark):
            decide_pending()
            executor.apply(venues.advance(micros(event.until)))

    async def on_bar(bars) -> None:
        await trader.on_bar(bars)
        if not bars:
            return
        bar_time = bars[0].bar_time
        t = micros(bar_time)
        executor.apply(venues.cancel_resting("replaced at the next bar"))
        for d in trader.decisions[len(decided) :]:
            if d.traded and (trade_from is None or bar_time >= trade_from):
                pending.append((d.prediction, bar_time))
        decided.extend(trader.decisions[len(decided) :])
        exposure = 0.0
        for asset in pair:
            mid = executor.mid(asset, t)
            if math.isfinite(mid):
                mids.append((asset, bar_time, mid))
                exposure += abs(executor.positions.get(asset, 0.0)) * mid
        equity.append((bar_time, executor.equity(t), exposure))

    decided: list = []
    # the traded decisions of the last bar, executed at the next watermark
    pending: list[tuple[Any, datetime]] = []
    traded: dict[datetime, float] = {}  # notional of the orders decided per bar
    feed = ReplayFeed(
        warehouse, start, end, bar, observe=observe, window=window, memory_mb=config.backtest.memory_mb
    )
    try:
        loop = Loop(clock, feed, features, on_bar)
        loop.offload = False  # nothing else to serve: DuckDB inline, no thread hop per event
        await loop.run()
        decide_pending()  # the last bar's decisions see the window's last rows
        executor.apply(venues.advance(micros(end)))
        # orders decided at the last bar would reach the venue after the window: never filled
        for o in venues.open:
            o.status, o.reason = ("partial" if o.filled else "cancelled"), "the replay window ended"
            journal.order(o)
        venues.open.clear()
    finally:
        features.close()
        outbox.close()
        journal.close()

    capital = config.execution.sizing.capital
    curve = pd.DataFrame(equity, columns=["bar_time", "equity", "exposure"])
    curve["traded"] = [traded.get(b, 0.0) for b in curve["bar_time"]]
    figures = performance(curve["equity"].to_numpy(), curve["exposure"].to_numpy(), curve["traded"].to_numpy(),
                          capital, bar.total_seconds())  # fmt: skip
    per_venue = costs_per_venue(venues.orders, venues.fills)
    for venue, costs in per_venue.items():
        costs["fill_model"] = fill_models.get(venue, BOOK if venues.specs[venue].kind == "cex" else "amm")
    totals = {k: float(sum(v[k] for v in per_venue.values())) for k in ("fees", "gas", "slippage")}
    preds = pd.DataFrame(
        [
            {
                "asset": d.prediction.asset,
                "bar_time": d.prediction.feature_time,
                "forecast": d.prediction.forecast,
                "horizon": d.prediction.horizon,
            }
            for d in trader.decisions
        ]  # fmt: skip
    )
    models_config = config.models
    min_edge = models_config.min_edge_bps if models_config.min_edge_bps is not None else models_config.fee_bps
    wf = vectorised(preds, pd.DataFrame(mids, columns=["asset", "bar_time", "mid"]), models_config.fee_bps,
                    min_edge, bar.total_seconds(), models_config.allow_short)  # fmt: skip
    mean_exposure = float(curve["exposure"].mean() / capital) if len(curve) else 0.0
    row = {
        "run_id": run_id,
        "model_tag": model.tag,
        "code_version": code_version,
        "data_start": start,
        "data_end": end,
        "seed": seed,
        "config": json.dumps(
            {
                "order_style": order_style,
                "fill_models": fill_models,
                "latency_ms": [p50, p99],
                "trade_from": str(trade_from) if trade_from else None,
                "config": json.loads(config_text),
            },
            sort_keys=True,
        ),  # fmt: skip
        "input_partitions": json.dumps(partitions, sort_keys=True),
        "bars": len(curve),
        "events": feed.rows_read,
        "decisions": len(trader.decisions),
        "orders": len(venues.orders),
        "fills": len(venues.fills),
        **figures,
        **totals,
        "per_venue": json.dumps(per_venue, sort_keys=True),
        "wf_total_return": wf["total_return"] if wf else None,
        "wf_sharpe": wf["sharpe"] if wf else None,
        "wf_max_drawdown": wf["max_drawdown"] if wf else None,
        "difference": explain({**figures, **totals}, wf, capital, mean_exposure, models_config.fee_bps),
    }
    return BacktestResult(row, venues.orders, venues.fills, curve[["bar_time", "equity", "exposure"]], per_venue,
                          wf, executor.refusals, folder / "journal.jsonl",
                          [(d.prediction.prediction_id, d.prediction.asset, d.prediction.feature_time)
                           for d in trader.decisions])  # fmt: skip


def candle_venue_specs(
    config: KimeraConfig, fill_models: dict[str, str], known: set[str]
) -> list[PaperVenueSpec]:
    """A venue for each candle venue the config does not run (an imported dump's ``--venue``), with
    the fee and latency of ``backtest.candles``."""
    candles = config.backtest.candles
    symbols = tuple(a.pair for a in config.assets)
    return [
        PaperVenueSpec(
            name=venue,
            kind="cex",
            symbols=symbols,
            fee=candles.fee_bps / 1e4,
            latency_s=candles.latency_ms / 1e3,
        )  # fmt: skip
        for venue, model in fill_models.items()
        if model == CANDLES and venue not in known
    ]


def as_frames(result: BacktestResult) -> dict[str, pd.DataFrame]:
    """The result's rows for ``ml.backtests``, ``ml.backtest_orders``, ``ml.backtest_fills``, ``ml.backtest_equity``."""
    run_id = result.run["run_id"]

    def stamp(us: int) -> datetime:
        return datetime(1970, 1, 1) + timedelta(microseconds=int(us))

    orders = pd.DataFrame(
        [
            {
                "run_id": run_id,
                "order_id": o.order_id,
                "decision_id": o.decision_id,
                "venue": o.venue,
                "symbol": o.symbol,
                "side": o.side,
                "amount": o.amount,
                "limit_price": o.limit,
                "tif": o.tif,
                "decided_at": stamp(o.decided_at),
                "arrive_at": stamp(o.arrive_at),
                "arrival_price": o.arrival_price,
                "filled": o.filled,
                "average_price": o.average_price,
                "fee": o.fee,
                "gas": o.gas,
                "status": o.status,
                "reason": o.reason,
            }
            for o in result.orders
        ]  # fmt: skip
    )
    fills = pd.DataFrame(
        [
            {
                "run_id": run_id,
                **{k: v for k, v in asdict(f).items() if k not in ("ts", "block")},
                "ts": stamp(f.ts),
                "block_number": f.block,
            }
            for f in result.fills
        ]  # fmt: skip
    )
    equity = result.equity.assign(run_id=run_id)
    return {"backtests": pd.DataFrame([result.run]), "backtest_orders": orders, "backtest_fills": fills,
            "backtest_equity": equity}  # fmt: skip


def store(warehouse: Path, result: BacktestResult) -> None:
    """Write the run's rows (replacing an earlier run with the same id), in one transaction."""
    import duckdb

    from kimera.schema.ml import BACKTEST_EQUITY_DDL, BACKTEST_FILLS_DDL, BACKTEST_ORDERS_DDL, BACKTESTS_DDL

    frames = as_frames(result)
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema if not exists ml")
        for ddl in (BACKTESTS_DDL, BACKTEST_ORDERS_DDL, BACKTEST_FILLS_DDL, BACKTEST_EQUITY_DDL):
            con.execute(ddl)
        con.execute("begin")
        for table, frame in frames.items():
            con.execute(f"delete from ml.{table} where run_id = ?", [result.run["run_id"]])
            if len(frame):
                columns = [r[0] for r in con.execute(f"select * from ml.{table} limit 0").description]
                con.register("frame", frame[[c for c in columns if c in frame.columns]])
                con.execute(f"insert into ml.{table} by name select * from frame")
                con.unregister("frame")
        con.execute("commit")


def run_backtest(
    settings: Settings,
    config: KimeraConfig,
    start: datetime,
    end: datetime,
    *,
    per_bar_features: bool = False,
    output: Path | None = None,
    **kwargs,
) -> BacktestResult:
    """Compile the online features (dbt's SQL for windows of ``CHUNK_BARS`` bars, or, with
    ``per_bar_features``, of one bar as ``kimera live`` runs them), replay, store the rows (in
    ``output``; default: the warehouse replayed)."""
    from pipelines.features.online_sql import compile_online_features

    read_window(config, check_window(config, start, end))  # before the compilation: refused at once
    warehouse = kwargs.get("warehouse") or settings.warehouse_path
    if not warehouse.exists():
        raise ConfigError(f"no warehouse at {warehouse}: ingest the window first (kimera ingest --from --to)")
    if per_bar_features:
        compiled = compile_online_features(config, backtest_dir(settings) / "compiled")
    else:
        compiled = compile_online_features(
            config, backtest_dir(settings) / "compiled-chunked", window_bars=CHUNK_BARS
        )
    result = asyncio.run(replay(settings, config, compiled, start, end, **kwargs))
    store(output or warehouse, result)
    return result


def summary(result: BacktestResult) -> list[str]:
    """The lines ``kimera backtest`` prints."""
    r = result.run
    lines = [
        f"backtest {r['run_id']}  model {r['model_tag']}  {r['data_start']} .. {r['data_end']}  seed {r['seed']}",
        f"  {r['events']:,} events, {r['bars']} bars, {r['decisions']} decisions, {r['orders']} orders, "
        f"{r['fills']} fills",
        f"  total return {r['total_return']:+.4%}  Sharpe {r['sharpe']:.2f}  Sortino {r['sortino']:.2f}  "
        f"max drawdown {r['max_drawdown']:.4%}  win rate {_pct(r['win_rate'])}  turnover {r['turnover']:.4f}/bar",
        "  venue          fills     notional       fees        gas   slippage  slip bps  fill model",
    ]
    for venue, v in result.per_venue.items():
        lines.append(
            f"  {venue:12s} {v['fills']:7d} {v['notional']:12,.2f} {v['fees']:10,.2f} {v['gas']:10,.2f} "
            f"{v['slippage']:10,.2f} {v['slippage_bps']:9.2f}  {v.get('fill_model', '')}"
        )
    models = json.loads(r["config"]).get("fill_models") or {}
    if models:
        lines.append("  fill model per venue: " + ", ".join(f"{v} {m}" for v, m in models.items()))
    wf = result.vectorised
    if wf:
        lines.append(
            f"  walk-forward (vectorised, same model and bars): log return {wf['total_return']:+.4%}  "
            f"Sharpe {wf['sharpe']:.2f}  max drawdown {wf['max_drawdown']:.4%}"
        )
    lines.append(f"  difference: {r['difference']}")
    return lines


def _pct(value: float) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.1%}"
