"""``kimera demo``: the whole loop on the simulator, as a list of stages, each idempotent.

A stage is a function ``(DemoContext) -> list[str]`` (summary lines) in its own module beside this
one; the domains know nothing of the demo: the stages compose their jobs, assets and plain
functions. Adding one is one line in :data:`STAGES`; inside it, ``ctx.run_job(name, title)``
materialises a job of the code location on the Dagster instance under ``KIMERA_HOME/dagster`` with
progress bars, so the runs show in the UI. Stage modules import the domains inside the stage
function, so ``kimera --help`` stays fast.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from kimera.app.demo.context import DemoContext, DemoFailed
from kimera.app.demo.features import features_stage
from kimera.app.demo.ingest import ingest_stage
from kimera.app.demo.paper_trading import paper_stage
from kimera.app.demo.report import report_stage
from kimera.app.demo.serve import serve_stage
from kimera.app.demo.train import train_stage
from kimera.app.services import ServiceFailed
from kimera.config import ConfigError, KimeraConfig, load_config
from kimera.settings import Settings, get_settings, prepare_home

if TYPE_CHECKING:
    from rich.console import Console


@dataclass(frozen=True)
class Stage:
    name: str
    title: str
    function: Callable[[DemoContext], list[str]]


STAGES: tuple[Stage, ...] = (
    Stage("ingest", "Ingest exchange, chain and DEX data into raw.*", ingest_stage),
    Stage("features", "Check the raw data, build features and labels with dbt", features_stage),
    Stage("train", "Train, tune and evaluate the models walk-forward", train_stage),
    Stage("paper", "Start the execution service and its paper venues", paper_stage),
    # "serve" pushes its signals to the service "paper" started; "report" stays last.
    Stage("serve", "Promote, package and serve the model; predict the newest bars", serve_stage),
    Stage("report", "Build the report and the summary", report_stage),
)
STAGE_NAMES: tuple[str, ...] = tuple(s.name for s in STAGES)

EXAMPLE_QUERIES = (
    "select venue, symbol, count(*) as bars, min(open_time), max(open_time) from raw.exchange_ohlcv group by all order by all",
    "select date_trunc('hour', ts) as hour, count(*) as blocks, sum(tx_count) as txs from raw.chain_blocks group by all order by hour limit 5",
    "select pool, count(*) as swaps, avg(price) as avg_price from raw.dex_swaps group by pool",
    "select f.asset, round(corr(f.net_exchange_flow_z, l.fwd_ret_1), 3) as ic_flow from marts.features f join marts.labels l using (asset, bar_time) group by f.asset",
)


def demo_window(
    config: KimeraConfig, days: int | None, now: datetime | None = None
) -> tuple[datetime, datetime]:
    """``[start, start + days)`` (default ``demo_days``), cut at the last complete hour: partitions
    exist only for hours that have ended."""
    days = config.demo_days if days is None else days
    if days < 1:
        raise ConfigError(f"--days {days} is not accepted: expected a whole number of days >= 1")
    now = (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
    last_complete = now.replace(minute=0, second=0, microsecond=0)
    start = config.start_time
    if start >= last_complete:
        raise ConfigError(
            f"start = {config.start.isoformat()} is not accepted for the demo: it must be before the "
            f"last complete hour ({last_complete:%Y-%m-%d %H:00} UTC)"
        )
    return start, min(start + timedelta(days=days), last_complete)


def warehouse_counts(settings: Settings) -> dict[str, int]:
    """Rows per table in the warehouse (every schema), read-only."""
    import duckdb

    if not settings.warehouse_path.exists():
        return {}
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        tables = con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE NOT internal ORDER BY ALL"
        ).fetchall()
        return {
            f"{s}.{t}": con.execute(f'SELECT count(*) FROM "{s}"."{t}"').fetchall()[0][0] for s, t in tables
        }


def run_demo(days: int | None = None, stage: str = "all") -> dict[str, int]:
    """Run the stages up to ``stage`` (all by default) and print the summary; return rows per table.

    The config is loaded first, so a bad one fails before anything runs. Every stage overwrites
    what it writes, so running the demo twice leaves the same rows.
    """
    settings = get_settings()
    config = load_config(settings=settings)
    start, end = demo_window(config, days)
    if stage != "all" and stage not in STAGE_NAMES:
        raise ConfigError(
            f"--stage {stage!r} is not accepted: expected one of {', '.join(STAGE_NAMES)} or all"
        )
    chosen = STAGES if stage == "all" else STAGES[: STAGE_NAMES.index(stage) + 1]
    prepare_home(settings)

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(soft_wrap=True)  # paths and queries stay whole, to copy and paste
    console.print(
        f"[bold]Kimera demo[/]: {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC, home {settings.home_dir}"
    )
    if end < start + timedelta(days=days or config.demo_days):
        console.print(f"[yellow]The window ends at the last complete hour, {end:%Y-%m-%d %H:00} UTC.")
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    summary: list[str] = []
    timings: list[str] = []
    # no refresh thread when the output is not a terminal (nothing is redrawn there anyway): a Ctrl-C
    # that lands while the main thread holds the console's lock would otherwise leave that thread
    # waiting on it, and the interrupted demo stopping the display would wait on that thread
    with (
        Progress(*columns, console=console, transient=False, auto_refresh=console.is_terminal) as progress,
        _sigterm_as_interrupt(),
    ):
        ctx = DemoContext(settings, config, start, end, progress, console)
        try:
            for each in chosen:
                progress.console.print(f"[bold cyan]{each.name}[/]: {each.title}")
                began = time.monotonic()
                summary += each.function(ctx)
                timings.append(f"{each.name} {time.monotonic() - began:.0f} s")
        except KeyboardInterrupt:
            progress.stop()
            console.print(
                "[yellow]Interrupted.[/] Servers it started are stopped; every chunk written is whole and nothing is half-written; "
                "run `kimera demo` again to finish (it overwrites, so nothing doubles)."
            )
            raise SystemExit(130) from None
        except (DemoFailed, ServiceFailed) as exc:
            progress.stop()
            console.print(f"[red]Demo failed:[/] {exc}")
            raise SystemExit(1) from None
        finally:
            ctx.close()
    try:
        counts = warehouse_counts(settings)
        _print_summary(console, settings, summary + [f"stage times: {', '.join(timings)}"], counts)
    except KeyboardInterrupt:
        console.print(
            "[yellow]Interrupted.[/] Every stage had finished and is written; run `kimera demo` again "
            "for the summary (it overwrites, so nothing doubles)."
        )
        raise SystemExit(130) from None
    return counts


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM stops the demo as Ctrl-C does: the servers it started are stopped too."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _print_summary(console: Console, settings: Settings, summary: list[str], counts: dict[str, int]) -> None:
    from rich.table import Table

    for line in summary:
        console.print(f"  {line}", soft_wrap=True)
    console.print(f"\n[bold]Warehouse[/]: {settings.warehouse_path}", soft_wrap=True)
    table = Table("table", "rows")
    for name, rows in counts.items():
        table.add_row(name, f"{rows:,}")
    console.print(table)
    console.print("[bold]Try[/]:")
    for query in EXAMPLE_QUERIES:
        console.print(f'  kimera sql "{query}"', soft_wrap=True)
    console.print(
        "Runs, partitions and asset metadata: `make ui` (Dagster on http://127.0.0.1:3000).", soft_wrap=True
    )
