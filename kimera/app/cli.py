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
@click.option("--bars", type=int, default=None, help="Stop after this many bars (default: until stopped).")
@click.option("--speed", type=float, default=None, help="Sim feed: simulated seconds per wall second.")
@click.option("--start", type=click.DateTime(), default=None, help="Sim feed: exchange time to start at.")
@click.option("--no-trade", is_flag=True, help="Predict only: send no signal to the execution service.")
def live(bars: int | None, speed: float | None, start, no_trade: bool) -> None:
    """Run the real-time loop: events -> bars -> online features -> promoted model -> signals."""
    import asyncio

    from kimera.config import load_config
    from kimera.settings import prepare_home
    from kimera.signing import client_auth
    from live.clock import LiveClock
    from live.run import ccxt_feed, live_dir, run_live, with_live_overrides
    from pipelines.features.online_sql import compile_online_features

    settings = prepare_home()
    config = load_config(settings=settings)
    overrides = {
        k: v for k, v in {"speed": speed, "trade": False if no_trade else None}.items() if v is not None
    }
    config = with_live_overrides(config, overrides)  # checked like the file: a bad value names itself
    auth = client_auth(settings, config.execution.auth.client_key) if config.live.trade else None
    feed, clock = (ccxt_feed(config, settings), LiveClock()) if config.live.feed == "ccxt" else (None, None)
    compiled = compile_online_features(config, live_dir(settings) / "compiled")
    run = run_live(
        settings, config, compiled, start=start, bars=bars, clock=clock, feed=feed, auth=auth, echo=click.echo
    )
    result = asyncio.run(run)
    click.echo(
        f"{result.bars} bars, {result.predictions} predictions, {result.signals_queued} signals "
        f"({result.accepted} accepted, {result.rejected} refused), {result.marked} bars marked"
    )
    for stage, q in result.latencies_ms.items():
        click.echo(f"  {stage:12s} p50 {q['p50']:8.2f} ms  p99 {q['p99']:8.2f} ms  (n={q['n']})")


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


@main.command()
@click.option("--port", default=3000, show_default=True, type=int, help="The Dagster UI's port.")
@click.option("--max-runs", default=4, show_default=True, type=click.IntRange(min=1), help="Runs at once.")
@click.option(
    "--executor", default="in_process", show_default=True, type=click.Choice(["in_process", "celery"]),
    help="Where steps run: in each run's process, or on Celery workers (with a throwaway Redis).",
)  # fmt: skip
@click.option("--workers", default=2, show_default=True, type=click.IntRange(min=1), help="Celery workers.")
def cluster(port: int, max_runs: int, executor: str, workers: int) -> None:
    """Dagster on a throwaway PostgreSQL: queued runs, each in its own process, daemon and UI (Ctrl-C stops)."""
    from kimera.app.cluster.processes import run_cluster_cli

    run_cluster_cli(port=port, max_concurrent_runs=max_runs, executor=executor, workers=workers)


@main.command("import")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--venue", required=True, help="Venue name the rows are stored under, e.g. binance.")
@click.option("--symbol", required=True, help="Unified symbol, e.g. BTC/USDT.")
def import_(path: Path, venue: str, symbol: str) -> None:
    """Import an exchange dump (Binance kline/trade CSV, zipped or not, or Parquet)."""
    from pipelines.sources.files import import_dump_cli

    import_dump_cli(path, venue=venue, symbol=symbol)


_MOMENT = click.DateTime(["%Y-%m-%d", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M"])


@main.command()
@click.option("--from", "start", type=_MOMENT, required=True, help="First hour (UTC), e.g. 2026-01-01.")
@click.option(
    "--to", "end", type=_MOMENT, default=None, help="End, exclusive (default: the last complete hour)."
)
def ingest(start, end) -> None:
    """Ingest [--from, --to) from every source in the config into raw.*, as one Dagster run."""
    from kimera.app.steps import ingest_cli

    ingest_cli(start, end)


@main.command()
@click.option(
    "--from", "start", type=_MOMENT, default=None, help="First hour (default: the stored candles')."
)
@click.option(
    "--to", "end", type=_MOMENT, default=None, help="End, exclusive (default: the stored candles')."
)
@click.option(
    "--rebuild", is_flag=True, help="Rebuild every model from all raw data (after a change of columns)."
)
def features(start, end, rebuild: bool) -> None:
    """Check the raw data, then build marts.features and marts.labels with dbt, as one Dagster run."""
    from kimera.app.steps import features_cli

    features_cli(start, end, rebuild)


@main.command()
@click.option(
    "--day", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Training partition (default: newest)."
)
def train(day) -> None:
    """Train, tune and evaluate the models walk-forward on the marts, as one Dagster run."""
    from kimera.app.steps import train_cli

    train_cli(day.date() if day else None)


@main.command()
@click.option("--from", "start", type=_MOMENT, default=None, help="First bar close (UTC), e.g. 2026-01-01.")
@click.option("--to", "end", type=_MOMENT, default=None, help="End of the replay, exclusive.")
@click.option("--model", "model_tag", default=None, help="A stored model's tag (default: the promoted one).")
@click.option("--config", "config_path", type=click.Path(exists=True, path_type=Path), default=None)
@click.option("--seed", type=int, default=None, help="Latency sampling seed (default: sim.seed).")
@click.option("--order-style", type=click.Choice(["taker", "maker"]), default="taker", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the ml.backtests row as one JSON line.")
@click.option(
    "--against-journal",
    default=None,
    help="Compare with this paper/live journal (path or URL) over its window.",
)
@click.option(
    "--per-bar-features",
    is_flag=True,
    help="Run the feature SQL bar by bar as kimera live does (slower; the default runs it per chunk of bars).",
)
def backtest(
    start, end, model_tag, config_path, seed, order_style, as_json, against_journal, per_bar_features
):
    """Replay [--from, --to) of the warehouse through the live loop and the execution path."""
    from backtest.cli import backtest_cli

    backtest_cli(start, end, model_tag, config_path, seed, order_style, as_json, click.echo, against_journal,
                 per_bar_features)  # fmt: skip


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
@click.option(
    "--public-key",
    type=click.Path(path_type=Path),
    default=None,
    help="ML-DSA-65 public key (PEM): also check the signed checkpoints, with this key alone.",
)
@click.option(
    "--checkpoints",
    type=click.Path(path_type=Path),
    default=None,
    help="Checkpoints file (default: execution.audit.checkpoints_path).",
)
def audit_verify(path: Path | None, public_key: Path | None, checkpoints: Path | None) -> None:
    """Check every entry's hash chain (and its signed checkpoints); name the first bad entry."""
    from execution.audit import verify_cli

    verify_cli(path, public_key, checkpoints)


@audit.command("new-key")
@click.option(
    "--otp", default=None, help="A code from your authenticator (when a second factor is enrolled)."
)
def audit_new_key(otp: str | None) -> None:
    """Make the ML-DSA-65 key that signs audit checkpoints (secret audit_checkpoint_key + public PEM)."""
    from execution.cli_client import audit_new_key_cli
    from execution.second_factor import require_cli

    require_cli(otp, "create the audit checkpoint key")
    audit_new_key_cli()


@audit.command("export")
@click.option(
    "--from", "start", type=click.DateTime(["%Y-%m-%d"]), required=True, help="First UTC day (included)."
)
@click.option(
    "--to", "end", type=click.DateTime(["%Y-%m-%d"]), required=True, help="Last UTC day (excluded)."
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Parquet file (default: under KIMERA_HOME/audit).",
)
@click.option(
    "--path", type=click.Path(path_type=Path), default=None, help="Journal (default: under KIMERA_HOME)."
)
@click.option(
    "--public-key", type=click.Path(path_type=Path), default=None, help="Checkpoint public key to embed."
)
@click.option(
    "--checkpoints",
    type=click.Path(path_type=Path),
    default=None,
    help="Checkpoints file (default: configured).",
)
def audit_export(
    start, end, out: Path | None, path: Path | None, public_key: Path | None, checkpoints: Path | None
) -> None:
    """Export the audit entries of [--from, --to) with their signed checkpoints to Parquet."""
    from execution.audit_export import export_cli

    export_cli(start.date(), end.date(), out, path, public_key, checkpoints)


@audit.command("commit")
@click.argument("day", type=click.DateTime(["%Y-%m-%d"]))
@click.option(
    "--path", type=click.Path(path_type=Path), default=None, help="Journal (default: under KIMERA_HOME)."
)
def audit_commit(day, path: Path | None) -> None:
    """Publish DAY's signed Merkle root of order commitments (Poseidon), for zero-knowledge proofs."""
    from execution.zk.cli import commit_cli

    commit_cli(day.date(), path)


@audit.command("prove")
@click.argument("client_order_id")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Proof file (default: under KIMERA_HOME/audit/zk).",
)
@click.option(
    "--path", type=click.Path(path_type=Path), default=None, help="Journal (default: under KIMERA_HOME)."
)
def audit_prove(client_order_id: str, out: Path | None, path: Path | None) -> None:
    """Prove an order was in its day's root, under the notional limit and within the price band (Groth16)."""
    from execution.zk.cli import prove_cli

    prove_cli(client_order_id, out, path)


@audit.command("verify-proof")
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--verification-key",
    type=click.Path(path_type=Path),
    default=None,
    help="Default: zk/build/verification_key.json.",
)
@click.option(
    "--public-key",
    type=click.Path(path_type=Path),
    default=None,
    help="Checkpoint public key: checks the signed root.",
)
@click.option("--no-snarkjs", is_flag=True, help="Verify in Python (py-ecc) only.")
def audit_verify_proof(
    file: Path, verification_key: Path | None, public_key: Path | None, no_snarkjs: bool
) -> None:
    """Verify a proof with the verification key and the signed root only (py-ecc and snarkjs)."""
    from execution.zk.cli import verify_proof_cli

    verify_proof_cli(file, verification_key, public_key, not no_snarkjs)


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
@click.option(
    "--day", type=click.DateTime(formats=["%Y-%m-%d"]), required=True, help="The day (UTC), YYYY-MM-DD."
)
@click.option("--account", default=None, help="One account (default: every account in the journal).")
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
def statement(day, account: str | None, as_json: bool) -> None:
    """Daily statement per account (HTML and PDF under KIMERA_HOME/statements/<account>/)."""
    from execution.statements.files import statement_cli

    statement_cli(day.date(), account, as_json)


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
@click.option(
    "--alg",
    type=click.Choice(["hmac", "ml-dsa-65"]),
    default="hmac",
    show_default=True,
    help="hmac: a shared secret; ml-dsa-65: a post-quantum key pair (the service keeps the public key).",
)
@click.option(
    "--otp", default=None, help="A code from your authenticator (when a second factor is enrolled)."
)
def keys_new(key_id: str, alg: str, otp: str | None) -> None:
    """Make a key for KEY_ID (its secret written to KIMERA_SECRETS_DIR, or printed as an export)."""
    from execution.cli_client import keys_new_cli
    from execution.second_factor import require_cli

    require_cli(otp, f"create API key {key_id!r}")
    keys_new_cli(key_id, alg)


@keys.command("operator-new")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--no-passphrase", is_flag=True, help="Protect the key file by its mode (600) only.")
@click.option(
    "--otp", default=None, help="A code from your authenticator (when a second factor is enrolled)."
)
def keys_operator_new(path: Path, no_passphrase: bool, otp: str | None) -> None:
    """Make the operator key (X25519 + ML-KEM-768) that sealed secrets are sealed to, and PATH.pub."""
    from execution.second_factor import require_cli
    from kimera.app.sealing_cli import operator_new_cli
    from kimera.settings import get_settings

    require_cli(otp, "create an operator key")

    given = get_settings().operator_passphrase
    passphrase = None
    if not no_passphrase:
        passphrase = (
            given.get_secret_value()
            if given
            else click.prompt("passphrase", hide_input=True, confirmation_prompt=True)
        )
    operator_new_cli(path, passphrase)


@keys.command("seal")
@click.argument("names", nargs=-1, required=True)
@click.option(
    "--to",
    type=click.Path(path_type=Path),
    default=None,
    help="Operator public key (default: KIMERA_OPERATOR_KEY.pub).",
)
@click.option(
    "--stdin", "from_stdin", is_flag=True, help="Read the one secret from stdin: no plaintext file ever."
)
def keys_seal(names: tuple[str, ...], to: Path | None, from_stdin: bool) -> None:
    """Seal secrets in KIMERA_SECRETS_DIR to the operator key (NAME -> NAME.sealed; the plaintext is deleted)."""
    from kimera.app.sealing_cli import seal_cli

    seal_cli(list(names), to, from_stdin)


@keys.command("unseal")
@click.argument("name")
def keys_unseal(name: str) -> None:
    """Print a sealed secret (opened in memory with KIMERA_OPERATOR_KEY) to stdout."""
    from kimera.app.sealing_cli import unseal_cli

    unseal_cli(name)


@main.group()
def operator() -> None:
    """The operator's second factor (TOTP and recovery codes) for operator actions (docs/security.md)."""


@operator.command("enrol")
def operator_enrol() -> None:
    """Make the TOTP secret (sealed when KIMERA_OPERATOR_KEY is set) and ten one-time recovery codes."""
    from execution.second_factor import enrol_cli

    enrol_cli()


@main.command()
@click.argument("names", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line and measure.")
@click.option("--quick", is_flag=True, help="Smaller inputs, for a smoke run.")
def bench(names: tuple[str, ...], as_json: bool, quick: bool) -> None:
    """Run benchmarks (all, or the NAMES given) and print each beside its same-run baseline."""
    import bench as benchmarks

    sys.exit(benchmarks.main(list(names), as_json=as_json, quick=quick))


@main.command("soak")
@click.option("--minutes", type=click.IntRange(1, 24 * 60), default=10, show_default=True,
              help="One-minute bars (wall time) at each rate.")  # fmt: skip
@click.option("--rate", "rates", type=click.FloatRange(min=1, max=100_000), multiple=True,
              help="Total trades/s over 3 venues x 2 assets; repeat for several runs [default: 1000, 10000].")  # fmt: skip
@click.option("--profile", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="cProfile statistics of the loop's event-loop thread, written here (one rate).")  # fmt: skip
def soak(minutes: int, rates: tuple[float, ...], profile: Path | None) -> None:
    """Run kimera live for MINUTES against the loopback exchange at each RATE and print what it did."""
    from bench._live_soak import describe, run_soak
    from bench.live_soak import RATES

    for rate in rates or RATES:
        click.echo("\n".join(describe(run_soak(minutes, rate, echo=click.echo, profile=profile))))


@main.command()
def leaks() -> None:
    """Run the leak suite: six leaky pipelines must each be caught, the honest one must pass (docs/leaks.md)."""
    from models.leak_suite import run_suite, table

    verdicts = run_suite()
    click.echo(table(verdicts))
    sys.exit(0 if all(v.ok for v in verdicts) else 1)


@main.command()
@click.argument("order_id", required=False)
@click.option(
    "--all", "every", is_flag=True, help="Every order placed from a signal: a line each and a tally."
)
@click.option(
    "--journal", default=None, help="Journal URL or SQLite path (default: the execution service's)."
)
def reproduce(order_id: str | None, every: bool, journal: str | None) -> None:
    """Rebuild the prediction behind ORDER_ID (or --all orders) from its point-in-time features and model."""
    from kimera.app.report import configured_journal
    from kimera.app.reproduce import run_cli
    from kimera.settings import get_settings

    if (order_id is None) == (not every):
        raise click.UsageError("give an ORDER_ID or --all (not both)")
    settings = get_settings()
    url = journal or configured_journal(settings)
    sys.exit(run_cli(order_id, url, settings, every, lambda line, err=False: click.echo(line, err=err)))


if __name__ == "__main__":
    main()
