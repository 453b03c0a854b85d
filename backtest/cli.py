"""``kimera backtest`` and ``python -m backtest``: one run, its rows stored, its figures printed."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

WARMUP_MARGIN_BARS = 24  # beyond the features' reach: the model's window (seq_len) and a little more


def backtest_cli(
    start: datetime | None,
    end: datetime | None,
    model_tag: str | None = None,
    config_path: Path | None = None,
    seed: int | None = None,
    order_style: str = "taker",
    as_json: bool = False,
    echo=print,
    against_journal: str | None = None,
    per_bar_features: bool = False,
) -> dict:
    """Run, store and print one backtest (compared with ``against_journal`` when given); returns its
    ``ml.backtests`` row (with the comparison's figures under ``against_journal``)."""
    from backtest.run import run_backtest, summary
    from kimera.config import TIMEFRAME_SECONDS, ConfigError, load_config
    from kimera.settings import prepare_home

    settings = prepare_home()
    config = load_config(config_path, settings=settings)
    seed = config.sim.seed if seed is None else seed
    window = None
    if against_journal is not None:
        from backtest.divergence import read_journal, warmup_start
        from live.run import needed_bars

        try:
            window = read_journal(against_journal)
        except ValueError as exc:
            raise ConfigError(f"--against-journal: {exc}") from None
        bar = timedelta(seconds=TIMEFRAME_SECONDS[config.features.bar])
        start = start or warmup_start(window.first_bar, bar, needed_bars(config) + WARMUP_MARGIN_BARS)
        end = end or window.last_bar + bar
        model_tag = model_tag or window.model_tag
    if start is None or end is None:
        raise ConfigError("--from and --to are required (or --against-journal, which reads its window)")
    from models.registry import RegistryError

    if model_tag is None:
        model_tag = newest_unpromoted(settings, config, echo)
    trade_from = window.first_bar if window is not None else None  # the journal's positions start flat there
    storage = lake_storage(settings, start, end) if settings.lake_url else {}
    try:
        result = run_backtest(settings, config, start, end, model_tag=model_tag, seed=seed, order_style=order_style,
                              trade_from=trade_from, per_bar_features=per_bar_features, **storage)  # fmt: skip
    except RegistryError as exc:
        raise ConfigError(f"--model: {exc}") from None
    row = dict(result.run)
    extra: list[str] = []
    if window is not None:
        from backtest.divergence import backtest_decisions, compare, lines, sizing_note

        figures = compare(window.decisions, backtest_decisions(result))
        row["against_journal"] = figures
        extra = lines(figures, str(against_journal))
        note = sizing_note(window, [s.name for s in config.execution.strategies])
        extra += [note] if note else []
    if as_json:
        echo(json.dumps(row, default=str, sort_keys=True))
    else:
        for line in [*summary(result), *extra]:
            echo(line)
        echo(
            f"  rows in ml.backtests / ml.backtest_orders / ml.backtest_fills, run_id = '{result.run['run_id']}'"
        )
        echo(f"  journal: {result.journal}")
    return row


def lake_storage(settings, start: datetime, end: datetime) -> dict[str, Path]:
    """With ``KIMERA_LAKE_URL``: the replay's input, the lake's raw rows of the window copied into a
    local file (``KIMERA_HOME/backtest/lake-window.duckdb``), and its output, the lake's catalog
    where training writes ``ml.*`` too (docs/scaling-out.md)."""
    from pipelines.lake.flow import catalog_path
    from pipelines.lake.resource import lake_of
    from pipelines.lake.snapshot import snapshot_window

    inputs = settings.home_dir / "backtest" / "lake-window.duckdb"
    snapshot_window(lake_of(settings), inputs, start, end)
    catalog_path(settings).parent.mkdir(parents=True, exist_ok=True)
    return {"warehouse": inputs, "output": catalog_path(settings)}


def newest_unpromoted(settings, config, echo) -> str | None:
    """With nothing promoted yet (``kimera train`` stores models, the promotion gate promotes), the
    newest trained ``serving.model`` (named in the output); None when one is promoted or none stored."""
    from models.promoted import read_promoted
    from models.registry import list_models

    if read_promoted(settings) is not None:
        return None
    stored = list_models(config.serving.model, settings)
    if not stored:
        return None
    echo(f"no model promoted yet: backtesting the newest trained, {stored[0].tag}")
    return stored[0].tag
