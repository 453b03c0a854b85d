"""Online features: dbt's feature models run bar by bar on the loop's in-memory buffer.

The buffer is an in-memory DuckDB database named ``warehouse`` laid out exactly as the warehouse
(raw tables, staging views, intermediate and mart tables), copied from the compiled folder's
``template.duckdb`` (``pipelines.features.online_sql``). Raw rows are appended as they arrive;
when a bar closes, each incremental model's compiled SQL, shifted to the bar's window, replaces
that window of its table (what dbt's ``replace_window`` strategy does), dependencies first. The
new ``marts.features`` rows are the bar's features: the same SQL on the same rows as the batch
build, so the same numbers.

The buffer keeps ``retention_bars`` bars of model tables and the raw rows of the current bar:
enough for every trailing window and for the recursive indicators, which resume from their
stored state. Pruning never removes the newest row of a table per asset (the DEX price is the
newest swap "however far back").
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from queue import Queue
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from live.sql_window import shift_window

RAW_TIME_COLUMNS = {
    "exchange_ohlcv": "open_time",
    "exchange_trades": "ts",
    "order_book_snapshots": "ts",
    "chain_blocks": "ts",
    "token_transfers": "ts",
    "dex_swaps": "ts",
    "dex_pool_reserves": "ts",
}
REFERENCE_TABLES = ("dex_pools", "tokens", "wallet_labels")


@dataclass(frozen=True)
class CompiledModel:
    name: str
    relation: str
    sql: str
    window_column: str
    window_to_newest: bool
    widen_bars: int
    # the raw tables it reads (through views only); None: it reads another model's table, or the
    # folder was compiled before this was recorded. Never skipped then.
    raw_inputs: tuple[str, ...] | None = None
    # the incremental models it reads (directly or through views); None: compiled before this was
    # recorded, so it waits for every model before it
    upstream: tuple[str, ...] | None = None

    def needs(self, newest: dict[str, datetime], window_start: datetime) -> bool:
        """Whether this bar can give it rows: a model that only buckets its raw inputs' rows of the
        window (no widening, no carried state) gives none when no input has a row that recent."""
        if self.raw_inputs is None or self.window_to_newest or self.widen_bars:
            return True
        feeds = [t for t in self.raw_inputs if t not in REFERENCE_TABLES]
        return not feeds or any(t in newest and newest[t] >= window_start for t in feeds)


@contextmanager
def _transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Commit what the block did on ``con``, or roll it all back if it raised."""
    con.execute("begin")
    try:
        yield
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def _naive_utc(value: Any) -> datetime | None:
    """A row time as the buffer's naive UTC (raw tables may carry a time zone)."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value if isinstance(value, datetime) else None


class FeatureDefinitionsMissing(FileNotFoundError):
    """The compiled feature folder is missing or from another format."""


class OnlineFeatures:
    """Appends raw rows and computes each closed bar's ``marts.features`` rows."""

    def __init__(
        self, compiled_dir: Path, retention_bars: int = 400, threads: int = 1, workers: int = 1
    ) -> None:
        manifest = compiled_dir / "models.json"
        template = compiled_dir / "template.duckdb"
        if not manifest.exists() or not template.exists():
            raise FeatureDefinitionsMissing(
                f"{compiled_dir} holds no compiled features (models.json and template.duckdb); "
                "compile them with pipelines.features.online_sql.compile_online_features"
            )
        document = json.loads(manifest.read_text())
        self.bar = timedelta(seconds=int(document["bar_seconds"]))
        self.anchor = datetime.fromisoformat(document["anchor"])
        self.target = document["target"]
        self.models = [
            CompiledModel(
                **{
                    **m,
                    "raw_inputs": tuple(m["raw_inputs"]) if m.get("raw_inputs") is not None else None,
                    "upstream": tuple(m["upstream"]) if m.get("upstream") is not None else None,
                }
            )
            for m in document["models"]
        ]
        self.retention_bars = retention_bars
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.con = duckdb.connect(config={"threads": threads})
        self.con.execute(f"attach '{template}' as template (read_only)")
        self.con.execute("attach ':memory:' as warehouse")
        self.con.execute("copy from database template to warehouse")
        self.con.execute("detach template")
        self.con.execute("use warehouse")
        self.columns = [
            r[0]
            for r in self.con.execute(f"select * from {self.target} limit 0").description  # type: ignore[union-attr]
        ]
        self._per_asset = {
            m.name
            for m in self.models
            if "asset" in [r[0] for r in self.con.execute(f"describe {m.relation}").fetchall()]
        }
        # workers > 1: models whose inputs are ready run at once, each on its own connection to the
        # buffer (DuckDB releases the GIL while it works), so a bar takes its critical path, not the sum
        self._pool: ThreadPoolExecutor | None = None
        self._cursors: Queue[duckdb.DuckDBPyConnection] = Queue()
        if workers > 1:
            self._pool = ThreadPoolExecutor(workers, thread_name_prefix="kimera-features")
            for _ in range(workers):
                cursor = self.con.cursor()
                cursor.execute("use warehouse")
                self._cursors.put(cursor)
        self.last_bar: datetime | None = None
        self.newest: dict[str, datetime] = {}  # raw table -> its newest row's time appended so far
        self.skipped: dict[str, int] = {}  # model -> bars it was not run (no input rows for them)
        # a dict: each bar runs model by model, recording (wall s, this thread's CPU s) per model, for
        # the benchmark's breakdown; None (shipped): one script per bar
        self.model_times: dict[str, list[tuple[float, float]]] | None = None

    def load_reference(self, table: str, rows: pa.Table) -> None:
        """Replace ``raw.<table>``, a reference table (tokens, wallet labels, pools)."""
        if table not in REFERENCE_TABLES:
            raise ValueError(f"raw.{table} is not a reference table; accepted: {sorted(REFERENCE_TABLES)}")
        self.con.execute(f"delete from raw.{table}")
        self.con.execute(f"insert into raw.{table} by name select * from rows")

    def append(self, table: str, rows: pa.Table) -> None:
        """Add ``rows`` of ``raw.<table>`` to the buffer (as they arrive, so that a bar's close
        only pays for its own last rows)."""
        if table not in RAW_TIME_COLUMNS:
            raise ValueError(f"raw.{table} is not a feature input; accepted: {sorted(RAW_TIME_COLUMNS)}")
        if rows.num_rows:
            self.con.execute(f"insert into raw.{table} by name select * from rows")
            newest = _naive_utc(pc.max(rows[RAW_TIME_COLUMNS[table]]).as_py())
            if newest is not None and (table not in self.newest or newest > self.newest[table]):
                self.newest[table] = newest

    def close_bar(self, bar_time: datetime) -> list[dict[str, Any]]:
        """Compute the bar closing at ``bar_time`` (every row before it must have been appended);
        returns its feature rows, one per asset, as ``{column: value}``."""
        if (bar_time - self.anchor) % self.bar:
            raise ValueError(f"{bar_time} is not a bar close on the {self.bar} grid")
        if self.last_bar is not None and bar_time <= self.last_bar:
            raise ValueError(f"bar {bar_time} is not after the last closed bar {self.last_bar}")
        shift = bar_time - self.bar - self.anchor
        # a bar with no rows of a model's inputs cannot give it rows (no DEX or chain feed: no DEX or
        # chain buckets); one bar of margin, since rows may reach the buffer before their bar opens
        models = []
        for model in self.models:
            if model.needs(self.newest, bar_time - 2 * self.bar):
                models.append(model)
            else:
                self.skipped[model.name] = self.skipped.get(model.name, 0) + 1
        if self._pool is not None and self.model_times is None:
            self._run_concurrently(models, shift)
        else:
            self._run_in_one_transaction(models, shift)
        self.last_bar = bar_time
        cursor = self.con.execute(
            f"select * from {self.target} where bar_time = ? order by asset", [bar_time]
        )
        names = [d[0] for d in cursor.description]  # type: ignore[union-attr]
        return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]

    def _run_in_one_transaction(self, models: list[CompiledModel], shift: timedelta) -> None:
        with _transaction(self.con):
            if self.model_times is None:  # one script per bar: one round trip instead of two per model
                self.con.execute(";\n".join(self._statements(model, shift) for model in models))
            else:
                for model in models:
                    wall, cpu = time.perf_counter(), time.thread_time()
                    self.con.execute(self._statements(model, shift))
                    spent = (time.perf_counter() - wall, time.thread_time() - cpu)
                    self.model_times.setdefault(model.name, []).append(spent)

    def _run_concurrently(self, models: list[CompiledModel], shift: timedelta) -> None:
        """Each model in its own transaction once the models it reads have committed, up to
        ``workers`` at once. A model that fails stops the bar: what is running finishes, nothing
        more starts, and the error is raised. The bar's windows are then partly replaced, and
        ``last_bar`` is not moved: closing the same bar again replaces every window (what
        ``replace_window`` does), so a retry gives the bar's rows as if nothing had failed."""
        assert self._pool is not None
        names = {m.name for m in models}
        waits = {
            m.name: {p.name for p in models[:i]} if m.upstream is None else set(m.upstream) & names
            for i, m in enumerate(models)
        }
        pending = list(models)
        running: dict[Future[None], str] = {}
        done: set[str] = set()
        failure: BaseException | None = None
        while pending or running:
            if failure is None:
                for model in [m for m in pending if waits[m.name] <= done]:
                    pending.remove(model)
                    running[self._pool.submit(self._run_model, model, shift)] = model.name
            if not running:
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                name = running.pop(future)
                if future.exception() is not None:
                    failure = failure or future.exception()
                else:
                    done.add(name)
        if failure is not None:
            raise failure

    def _run_model(self, model: CompiledModel, shift: timedelta) -> None:
        cursor = self._cursors.get()
        try:
            with _transaction(cursor):
                cursor.execute(self._statements(model, shift))
        finally:
            self._cursors.put(cursor)

    def _statements(self, model: CompiledModel, shift: timedelta) -> str:
        """dbt's replace_window for one model and bar: delete the bar's window, insert it rebuilt (the
        select reads the table's earlier rows, the recursion state, never the window's own)."""
        start = self.anchor + shift - model.widen_bars * self.bar
        end = self.anchor + shift + self.bar
        column = model.window_column
        where = f"{column} > timestamp '{start.isoformat(sep=' ')}'"
        if not model.window_to_newest:
            where += f" and {column} <= timestamp '{end.isoformat(sep=' ')}'"
        return (
            f"delete from {model.relation} where {where};\n"
            f"insert into {model.relation} by name ({shift_window(model.sql, shift)})"
        )

    def prune(self) -> None:
        """Drop what no later bar needs (call after handing a bar on: off the latency path)."""
        if self.last_bar is not None:
            self._prune(self.last_bar)

    def _prune(self, bar_time: datetime) -> None:
        keep_from = bar_time - self.retention_bars * self.bar
        for model in self.models:
            column, table = model.window_column, model.relation
            # the newest row (per asset where there is one) stays, however old: "latest known" reads
            per = "where u.asset is not distinct from t.asset" if model.name in self._per_asset else ""
            self.con.execute(
                f"delete from {table} t where {column} < ? "
                f"and {column} < (select max(u.{column}) from {table} u {per})",
                [keep_from],
            )
        # raw rows of earlier bars live on in the model tables (the current bar's stay for watermarks)
        for raw, column in RAW_TIME_COLUMNS.items():
            self.con.execute(f"delete from raw.{raw} where {column} < ?", [bar_time - self.bar])

    def table(self, relation: str) -> pa.Table:
        """Everything the buffer holds in ``relation`` (for tests and the status page)."""
        return self.con.execute(f"select * from {relation}").arrow()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            while not self._cursors.empty():
                self._cursors.get().close()
        self.con.close()
