"""``kimera``: the user's door to every part of the platform.

Each command is a thin shell over a function of the package that owns it, imported lazily so that
``kimera --help`` and ``kimera sql`` start fast.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from kimera.app.demo.run import STAGE_NAMES
from kimera.config import ConfigError


class _KimeraGroup(click.Group):
    """Turns the errors a user can fix (bad config, bad input) into one clear line and exit code 2."""

    def invoke(self, ctx: click.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            click.secho(f"config error: {exc}", fg="red", err=True)
            sys.exit(2)


@click.group(cls=_KimeraGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="kimera")
def main() -> None:
    """Kimera: crypto data, features, models and execution, from a laptop to real venues."""


@main.command()
@click.option(
    "--days", type=int, default=None, help="Days of simulated data (default: demo_days in the config)."
)
@click.option(
    "--stage",
    type=click.Choice([*STAGE_NAMES, "all"]),
    default="all",
    show_default=True,
    help="Stop after this stage.",
)
def demo(days: int | None, stage: str) -> None:
    """Run the whole loop on the simulator, idempotently, and print a summary."""
    from kimera.app.demo.run import run_demo

    run_demo(days=days, stage=stage)


@main.command()
def report() -> None:
    """Build KIMERA_HOME/report/index.html (plots from the warehouse and the execution journal)."""
    from kimera.app.report import build_report
    from kimera.settings import get_settings

    built = build_report(get_settings())
    click.echo(f"report: {built.path.as_uri()} ({len(built.pictures)} plots)")
    for section, notes in built.missing.items():
        for note in notes:
            click.echo(f"  not shown ({section}): {note}")


@main.command()
@click.argument("query")
@click.option("--csv", "fmt", flag_value="csv", help="Print CSV.")
@click.option("--json", "fmt", flag_value="json", help="Print JSON lines, one object per row.")
@click.option("--limit", type=int, default=1000, show_default=True, help="Most rows printed as a table.")
def sql(query: str, fmt: str | None, limit: int) -> None:
    """Run a read-only SQL QUERY against the warehouse."""
    from kimera.app.sql import run_sql

    run_sql(query, fmt=fmt or "table", limit=limit)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=3000, show_default=True, type=int)
def ui(host: str, port: int) -> None:
    """Start the Dagster UI (dagster dev) on the instance under KIMERA_HOME/dagster."""
    from kimera.app.ui import run_ui

    run_ui(host=host, port=port)


@main.command("import")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--venue", required=True, help="Venue name the rows are stored under, e.g. binance.")
@click.option("--symbol", required=True, help="Unified symbol, e.g. BTC/USDT.")
def import_(path: Path, venue: str, symbol: str) -> None:
    """Import an exchange dump (Binance kline/trade CSV, zipped or not, or Parquet)."""
    from pipelines.sources.files import import_dump_cli

    import_dump_cli(path, venue=venue, symbol=symbol)


@main.command()
@click.option("--seconds", type=float, default=None, help="Stop after this long (default: until Ctrl-C).")
def stream(seconds: float | None) -> None:
    """Stream trades and order books over websockets into the landing folder."""
    from pipelines.landing.stream import run_stream_cli

    run_stream_cli(seconds=seconds)


@main.command()
@click.option("--port", type=int, default=None, help="Port (default: serving.port in the config).")
def serve(port: int | None) -> None:
    """Serve the promoted model over HTTP (BentoML)."""
    from bentos.serve import serve_cli

    serve_cli(port=port)


@main.command()
@click.option("--port", type=int, default=None, help="Port (default: execution.port in the config).")
def execute(port: int | None) -> None:
    """Run the execution service (signals -> risk -> router -> orders)."""
    from execution.app import serve_cli

    serve_cli(port=port)


@main.group()
def audit() -> None:
    """The execution service's hash-chained audit log."""


@audit.command("verify")
@click.option(
    "--path", type=click.Path(path_type=Path), default=None, help="Audit log (default: under KIMERA_HOME)."
)
def audit_verify(path: Path | None) -> None:
    """Check every entry's hash chain; name the first bad entry."""
    from execution.audit import verify_cli

    verify_cli(path)


@audit.command("trace")
@click.argument("client_order_id")
@click.option(
    "--path", type=click.Path(path_type=Path), default=None, help="Journal (default: under KIMERA_HOME)."
)
def audit_trace(client_order_id: str, path: Path | None) -> None:
    """Trace an order back to its signal, prediction, feature row and raw-data partitions."""
    from execution.cli_client import trace_cli

    trace_cli(client_order_id, path)


@main.command()
def costs() -> None:
    """Transaction-cost analysis per venue (table, CSV and PNG under KIMERA_HOME/report/)."""
    from execution.reports.plot import costs_cli

    costs_cli()


@main.command()
@click.argument("method", type=click.Choice(["GET", "POST", "PUT", "DELETE"], case_sensitive=False))
@click.argument("path")
@click.option("--data", default=None, help="JSON body, or @file.json.")
@click.option("--port", type=int, default=None, help="Port (default: execution.port in the config).")
def call(method: str, path: str, data: str | None, port: int | None) -> None:
    """Send one signed request to the execution service, e.g. `kimera call GET /positions`."""
    from execution.cli_client import call_cli

    call_cli(method, path, data, port)


@main.group()
def keys() -> None:
    """API keys of the execution service (docs/security.md)."""


@keys.command("new")
@click.argument("key_id", default="local")
def keys_new(key_id: str) -> None:
    """Make a signing secret for KEY_ID (written to KIMERA_SECRETS_DIR, or printed as an export)."""
    from execution.cli_client import keys_new_cli

    keys_new_cli(key_id)


@main.command()
@click.argument("names", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line and measure.")
@click.option("--quick", is_flag=True, help="Smaller inputs, for a smoke run.")
def bench(names: tuple[str, ...], as_json: bool, quick: bool) -> None:
    """Run benchmarks (all, or the NAMES given) and print each beside its same-run baseline."""
    import bench as benchmarks

    sys.exit(benchmarks.main(list(names), as_json=as_json, quick=quick))


if __name__ == "__main__":
    main()
