"""``kimera ingest``, ``kimera features``, ``kimera train``: one step of the pipeline each, on your data.

Each runs the same Dagster job as the demo's stage and the UI (on the instance under
``KIMERA_HOME/dagster``, so the run shows in ``kimera ui``), with a progress bar per step, and ends
with a summary and the command to run next. The window is whole hours of naive UTC, inside the
config's partitions: from ``start`` to the last complete hour.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from kimera.config import TIMEFRAME_SECONDS, ConfigError, KimeraConfig, load_config
from kimera.settings import Settings, get_settings, prepare_home

if TYPE_CHECKING:
    from kimera.app.demo.context import DemoContext

Step = Callable[["DemoContext"], list[str]]


def last_complete_hour(now: datetime | None = None) -> datetime:
    """Partitions exist only for hours that have ended."""
    now = (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
    return now.replace(minute=0, second=0, microsecond=0)


def check_window(
    config: KimeraConfig, start: datetime, end: datetime | None, now: datetime | None = None
) -> tuple[datetime, datetime]:
    """``[start, end)`` as whole hours inside the partitions (end defaults to the last complete hour).

    Raises ConfigError naming the bound that is wrong and what is accepted.
    """
    newest = last_complete_hour(now)
    end = newest if end is None else end
    for name, moment in (("--from", start), ("--to", end)):
        if moment.minute or moment.second or moment.microsecond:
            raise ConfigError(
                f"{name} {moment:%Y-%m-%d %H:%M} is not accepted: give a whole hour, e.g. 2026-01-05 13:00"
            )
    if start < config.start_time:
        raise ConfigError(
            f"--from {start:%Y-%m-%d %H:%M} is before start = {config.start.isoformat()} in the config, where "
            f"the partitions begin: set start: {start:%Y-%m-%d} in kimera.yaml, or ask for a later --from"
        )
    end = min(end, newest)
    if not start < end:
        raise ConfigError(
            f"the window [{start:%Y-%m-%d %H:%M}, {end:%Y-%m-%d %H:%M}) is empty: --from must be before --to "
            f"and before the last complete hour ({newest:%Y-%m-%d %H:00} UTC)"
        )
    return start, end


def raw_candle_window(settings: Settings, config: KimeraConfig) -> tuple[datetime, datetime]:
    """Whole hours covering the stored candles of ``exchange.timeframe`` (what ``kimera features`` builds)."""
    import duckdb

    if not settings.warehouse_path.exists():
        raise ConfigError(
            f"no warehouse at {settings.warehouse_path}: `kimera import` or `kimera ingest` first"
        )
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        exists = (
            "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'raw' AND table_name = 'exchange_ohlcv'"
        )
        first, last = candle_span(con, exists, config.exchange.timeframe)
    if first is None:
        raise ConfigError(
            f"raw.exchange_ohlcv holds no {config.exchange.timeframe} candles (exchange.timeframe in the config): "
            "import or ingest candles first, or pass --from and --to"
        )
    return hours_covering(first, last, config.exchange.timeframe)


def candle_span(con, exists_sql: str, timeframe: str) -> tuple[datetime | None, datetime | None]:
    """First and last ``open_time`` of ``raw.exchange_ohlcv``'s ``timeframe`` candles on ``con``;
    ``(None, None)`` when ``exists_sql`` counts no such table (or view) or it holds none."""
    if not con.execute(exists_sql).fetchone()[0]:
        return None, None
    return con.execute(
        "SELECT min(open_time), max(open_time) FROM raw.exchange_ohlcv WHERE timeframe = ?", [timeframe]
    ).fetchone()


def hours_covering(first: datetime, last: datetime, timeframe: str) -> tuple[datetime, datetime]:
    """Whole hours from the first candle's open to the last one's close."""
    close = last + timedelta(seconds=TIMEFRAME_SECONDS[timeframe])
    end = close.replace(minute=0, second=0, microsecond=0)
    end += timedelta(hours=1) if end < close else timedelta(0)
    return first.replace(minute=0, second=0, microsecond=0), end


def run_step(
    title: str,
    window: tuple[datetime, datetime],
    step: Step,
    next_hint: str,
    done: Callable[[list[str]], bool] = bool,
) -> list[str]:
    """Run ``step`` with progress bars over ``window``; print its summary and the next command.

    When ``done(lines)`` is false the step did nothing (e.g. too little data): the summary says
    why and the command exits with status 2 instead of naming a next step.
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from kimera.app.demo.context import DemoContext, DemoFailed
    from kimera.app.services import ServiceFailed

    settings = get_settings()
    config = load_config(settings=settings)
    prepare_home(settings)
    console = Console(soft_wrap=True)
    start, end = window
    console.print(
        f"[bold]{title}[/]: {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC, home {settings.home_dir}"
    )
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        ctx = DemoContext(settings, config, start, end, progress, console)
        try:
            lines = step(ctx)
        except KeyboardInterrupt:
            progress.stop()
            console.print(
                "[yellow]Interrupted.[/] Every chunk written is whole; run the command again to finish."
            )
            raise SystemExit(130) from None
        except (DemoFailed, ServiceFailed) as exc:
            progress.stop()
            console.print(f"[red]Failed:[/] {exc}")
            raise SystemExit(1) from None
        finally:
            ctx.close()
    for line in lines:
        console.print(f"  {line}")
    if not done(lines):
        raise SystemExit(2)
    console.print(f"[bold]Next[/]: {next_hint}")
    return lines


def _window_args(start: datetime, end: datetime) -> str:
    return f"--from '{start:%Y-%m-%d %H:%M}' --to '{end:%Y-%m-%d %H:%M}'"


def ingest_cli(start: datetime, end: datetime | None) -> None:
    """``kimera ingest --from --to``: every configured source into ``raw.*`` over the window, one run."""
    from kimera.app.demo.ingest import ingest_stage

    config = load_config()
    window = check_window(config, start, end)
    run_step("Ingest", window, ingest_stage, f"kimera features {_window_args(*window)}")


def features_cli(start: datetime | None, end: datetime | None, rebuild: bool) -> None:
    """``kimera features``: raw checks, then dbt over the window (default: the stored candles')."""
    from kimera.app.demo.features import build_features
    from pipelines.features.definitions import FEATURES_JOB, REBUILD_JOB

    settings = get_settings()
    config = load_config(settings=settings)
    if settings.lake_url:  # the warehouse on object storage (docs/scaling-out.md)
        from kimera.app.lake_steps import lake_candle_window, lake_features

        stored_window, summarise = lake_candle_window, lake_features
    else:
        stored_window, summarise = raw_candle_window, build_features
    if start is None:
        stored = stored_window(settings, config)
        start, end = stored[0], end or stored[1]
    window = check_window(config, start, end)
    job = REBUILD_JOB if rebuild else FEATURES_JOB
    run_step("Features", window, lambda ctx: summarise(ctx, job), "kimera train")


def train_cli(day: date | None) -> None:
    """``kimera train``: the ``ml_training`` job for the day of the newest labelled bar (or ``day``)."""
    from kimera.app.demo.train import train_partition

    settings = get_settings()
    config = load_config(settings=settings)
    partition = day or newest_training_day(settings, config)
    end = datetime(partition.year, partition.month, partition.day) + timedelta(days=1)
    window = (config.start_time, end)
    run_step(
        "Train",
        window,
        lambda ctx: train_partition(ctx, partition.isoformat()),
        'kimera serve (serves the promoted model); kimera sql "select * from ml.evaluations"',
        done=lambda lines: not lines[0].startswith("train: not run"),
    )


def newest_training_day(settings: Settings, config: KimeraConfig, now: datetime | None = None) -> date:
    """The newest daily partition holding labelled bars (partition D trains on bars before D + 1 day)."""
    import duckdb

    from kimera.app.lake_steps import marts_reader

    column = f"fwd_ret_{config.models.horizon}"
    try:
        with marts_reader(settings) as con:  # the lake's mart files with KIMERA_LAKE_URL
            newest = con.execute(
                f"SELECT max(bar_time) FROM marts.labels WHERE {column} IS NOT NULL"
            ).fetchone()[0]
    except (duckdb.IOException, duckdb.CatalogException):
        newest = None
    if newest is None:
        raise ConfigError(f"marts.labels has no {column} label yet: run `kimera features` first")
    yesterday = (last_complete_hour(now) - timedelta(days=1)).date()  # the newest partition that has ended
    return min(newest.date(), yesterday)
