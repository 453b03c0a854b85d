"""Read-only access to what the report draws: the warehouse (DuckDB) and the execution journal
(SQLite or PostgreSQL, through ``execution.journal_reader``).

Every reader returns a DataFrame, or :class:`Missing` saying in a sentence what is absent and which
step makes it, so the report can say so instead of drawing something it does not have.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from models.walk_forward import BASELINES  # every other model in ml.evaluations is a candidate

# Features worth a picture: returns, volatility, momentum, the planted chain signal, the book, the DEX.
FEATURES = ("ret_1", "realized_vol", "rsi", "net_exchange_flow_z", "book_imbalance", "dex_cex_basis_bps")


@dataclass(frozen=True)
class Missing:
    """Why a section has nothing to show: what is absent, and what makes it."""

    what: str


class Warehouse:
    """The warehouse opened read-only (a running demo or ``dagster dev`` may hold the writer)."""

    def __init__(self, path: Path) -> None:
        import duckdb

        self.path = path
        self.con = duckdb.connect(str(path), read_only=True) if path.exists() else None

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.con is not None:
            self.con.close()
            self.con = None

    def has(self, schema: str, table: str) -> bool:
        if self.con is None:
            return False
        found = self.con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name = ?", [schema, table]
        ).fetchone()[0]
        if found:
            return True
        return bool(
            self.con.execute(
                "SELECT count(*) FROM duckdb_views() WHERE schema_name = ? AND view_name = ?", [schema, table]
            ).fetchone()[0]
        )

    def columns(self, schema: str, table: str) -> list[str]:
        rows = self.con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ? "
            "ORDER BY ordinal_position",
            [schema, table],
        ).fetchall()
        return [r[0] for r in rows]

    def frame(self, sql: str, params: list | None = None) -> pd.DataFrame:
        return self.con.execute(sql, params or []).df()

    def counts(self) -> dict[str, int]:
        """Rows per table (every schema but dbt's test audit)."""
        if self.con is None:
            return {}
        tables = self.con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE NOT internal "
            "AND schema_name NOT LIKE 'dbt_test%' ORDER BY ALL"
        ).fetchall()
        return {
            f"{s}.{t}": self.con.execute(f'SELECT count(*) FROM "{s}"."{t}"').fetchone()[0] for s, t in tables
        }

    # --- what each section reads ------------------------------------------------------------------
    def venue_prices(self) -> pd.DataFrame | Missing:
        """Hourly closes per (asset, venue): every CEX venue, and each DEX pool as ``<dex> <pool>``."""
        if not self.has("raw", "exchange_ohlcv"):
            return Missing("no exchange candles: raw.exchange_ohlcv is made by the ingest stage")
        cex = self.frame(
            """
            SELECT split_part(symbol, '/', 1) AS asset, venue, time_bucket(INTERVAL 1 HOUR, open_time) AS hour,
                   arg_max(close, open_time) AS price
            FROM raw.exchange_ohlcv GROUP BY ALL ORDER BY ALL
            """
        )
        cex["kind"] = "cex"
        if not self.has("intermediate", "int_dex_prices_oriented"):
            return cex
        dex = self.frame(
            """
            SELECT asset, dex || ' ' || left(pool, 8) AS venue, time_bucket(INTERVAL 1 HOUR, ts) AS hour,
                   median(price) AS price
            FROM intermediate.int_dex_prices_oriented GROUP BY ALL ORDER BY ALL
            """
        )
        dex["kind"] = "dex"
        return pd.concat([cex, dex], ignore_index=True)

    def dex_prices_missing(self) -> Missing | None:
        if self.has("raw", "dex_swaps") and not self.has("intermediate", "int_dex_prices_oriented"):
            return Missing(
                "DEX prices in USD come from dbt's intermediate.int_dex_prices_oriented (the features stage)"
            )
        if not self.has("raw", "dex_swaps"):
            return Missing("no DEX swaps: raw.dex_swaps is made by the ingest stage")
        return None

    def features(self, days: int = 30) -> pd.DataFrame | Missing:
        """The last ``days`` of a few features per asset, with the next-bar return where known."""
        if not self.has("marts", "features"):
            return Missing("no features: marts.features is built by dbt in the features stage")
        present = [c for c in FEATURES if c in self.columns("marts", "features")]
        if not present:
            return Missing(f"marts.features has none of the plotted features {list(FEATURES)}")
        label = "l.fwd_ret_1" if self.has("marts", "labels") else "NULL"
        join = "LEFT JOIN marts.labels l USING (asset, bar_time)" if label != "NULL" else ""
        cols = ", ".join(f"f.{c}" for c in present)
        return self.frame(
            f"""
            SELECT f.asset, f.bar_time, {cols}, {label} AS fwd_ret_1 FROM marts.features f {join}
            WHERE f.bar_time > (SELECT max(bar_time) FROM marts.features) - INTERVAL {int(days)} DAY
            ORDER BY f.asset, f.bar_time
            """
        )

    def feature_ic(self) -> pd.DataFrame | Missing:
        """Correlation of each plotted feature with the next bar's return, per asset (all bars)."""
        if not (self.has("marts", "features") and self.has("marts", "labels")):
            return Missing("no marts.features/marts.labels: the features stage builds them")
        present = [c for c in FEATURES if c in self.columns("marts", "features")]
        if "fwd_ret_1" not in self.columns("marts", "labels") or not present:
            return Missing("marts.labels has no fwd_ret_1 (features.horizons must include 1)")
        parts = " UNION ALL ".join(
            f"SELECT asset, '{c}' AS feature, corr({c}, fwd_ret_1) AS ic, count({c}) AS bars "
            f"FROM marts.features JOIN marts.labels USING (asset, bar_time) GROUP BY asset"
            for c in present
        )
        return self.frame(f"SELECT * FROM ({parts}) ORDER BY feature, asset")

    def evaluations(self) -> pd.DataFrame | Missing:
        """Mean and spread over seeds of each model's walk-forward test scores, newest training run."""
        if not self.has("ml", "evaluations"):
            return Missing("no model evaluations: ml.evaluations is written by the train stage")
        columns = set(self.columns("ml", "evaluations"))
        metrics = [
            m
            for m in ("accuracy", "ic", "log_loss", "brier", "coverage", "sharpe", "max_drawdown")
            if m in columns
        ]
        newest = (
            "training_end = (SELECT max(training_end) FROM ml.evaluations)"
            if "training_end" in columns
            else "true"
        )
        means = ", ".join(f"avg({m}) AS {m}" for m in metrics)
        spread = ", ".join(f"stddev_samp({m}) AS {m}_sd" for m in metrics if m in {"accuracy", "sharpe"})
        per_seed = ", ".join(f"avg({m}) AS {m}" for m in metrics)
        frame = self.frame(
            f"""
            WITH per_seed AS (
              SELECT model, seed, {per_seed}, sum(n) AS bars FROM ml.evaluations WHERE {newest}
              GROUP BY model, seed
            )
            SELECT model, count(*) AS seeds, avg(bars) AS bars, {means}{", " + spread if spread else ""}
            FROM per_seed GROUP BY model ORDER BY model
            """
        )
        if frame.empty:
            return Missing("ml.evaluations is empty: the train stage writes it")
        if self.has("ml", "oracle_scores"):  # only on the simulator's data, which knows its planted signal
            oracle = self.frame(
                """
                SELECT model, bayes_accuracy AS bayes_a_star, oracle_hit, recovery, recovery_se,
                       expected_recovery AS recovery_of_calls
                FROM ml.oracle_scores WHERE training_end = (SELECT max(training_end) FROM ml.evaluations)
                """
            )
            if not oracle.empty:
                frame = frame.merge(oracle, on="model", how="left")
        frame["baseline"] = frame["model"].isin(BASELINES)
        return frame.sort_values(["baseline", "model"], ascending=[False, True]).reset_index(drop=True)

    def signal_pushes(self) -> list[str]:
        """How the signals asset's pushes to the execution service went: one phrase per status."""
        if not self.has("ml", "signal_pushes"):
            return []
        rows = self.con.execute(
            "SELECT status, count(*), any_value(http_status), any_value(left(detail, 160)) FROM ml.signal_pushes "
            "GROUP BY status ORDER BY status"
        ).fetchall()
        return [
            f"{status} {n}" + ("" if status == "accepted" or detail is None else f" (HTTP {code}: {detail})")
            for status, n, code, detail in rows
        ]

    def live_signals(self) -> list[str]:
        """What ``kimera live`` did with its predictions (``raw.live_predictions``, landed by the
        landing sensor): how many went to the execution service, why the others did not, and the
        loop's stage latencies. The live loop's counterpart of ``signal_pushes``."""
        if not self.has("raw", "live_predictions"):
            return []
        rows = self.con.execute(
            """
            SELECT CASE
                       WHEN traded THEN 'sent'
                       WHEN reason LIKE '% missing %' THEN 'not sent: a gap in the bar'
                       WHEN reason LIKE 'model % trained until %' THEN 'not sent: stale model'
                       WHEN reason LIKE '%already signalled before a restart%' THEN 'not sent: replayed or warm-up bar'
                       WHEN reason = 'already queued' THEN 'not sent: already queued'
                       ELSE 'not sent: ' || coalesce(left(reason, 80), 'no reason recorded')
                   END AS what,
                   count(*) AS n
            FROM raw.live_predictions GROUP BY what ORDER BY what DESC
            """
        ).fetchall()
        if not rows:
            return []
        phrases = [f"{what} {n}" for what, n in rows]
        stages = self.con.execute(
            "SELECT count(*), median(features_ms), median(model_ms), median(queue_ms), min(feature_time), "
            "max(feature_time) FROM raw.live_predictions WHERE traded"
        ).fetchone()
        if stages and stages[0]:
            n, features, model, queue, first, last = stages
            phrases.append(
                f"bars {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} sent; stage p50 of the sent: "
                f"watermark -> features {features:.1f} ms, model {model:.1f} ms, outbox {queue:.1f} ms"
            )
        return phrases

    def test_predictions(self) -> pd.DataFrame | Missing:
        """Out-of-sample forecasts beside what happened: walk-forward test rows (one seed, newest run),
        and the served model's predictions whose future bar has arrived."""
        frames = []
        if self.has("ml", "walk_forward_predictions"):
            frames.append(
                self.frame(
                    """
                    SELECT model, asset, bar_time, forecast, lower, upper, p_up, fwd_ret, 'walk-forward test' AS source
                    FROM ml.walk_forward_predictions
                    WHERE training_end = (SELECT max(training_end) FROM ml.walk_forward_predictions)
                      AND seed = (SELECT min(seed) FROM ml.walk_forward_predictions) AND fwd_ret IS NOT NULL
                    """
                )
            )
        if self.has("ml", "predictions") and self.has("marts", "labels"):
            horizons = [
                int(c.removeprefix("fwd_ret_"))
                for c in self.columns("marts", "labels")
                if c.startswith("fwd_ret_") and c.removeprefix("fwd_ret_").isdigit()
            ]
            if horizons:
                realised = " ".join(f"WHEN {h} THEN l.fwd_ret_{h}" for h in horizons)
                frames.append(
                    self.frame(
                        f"""
                        SELECT p.model_tag AS model, p.asset, p.feature_time AS bar_time, p.forecast, p.lower,
                               p.upper, p.p_up, CASE p.horizon {realised} END AS fwd_ret, 'served' AS source
                        FROM ml.predictions p JOIN marts.labels l ON l.asset = p.asset AND l.bar_time = p.feature_time
                        """
                    ).dropna(subset=["fwd_ret"])
                )
        frames = [f for f in frames if not f.empty]
        if not frames:
            return Missing(
                "no forecast has a realised return yet: ml.walk_forward_predictions (train stage) or "
                "ml.predictions (serve stage) joined with marts.labels"
            )
        return pd.concat(frames, ignore_index=True)


class Journal:
    """The execution journal, read-only through ``execution.journal_reader`` (SQLite or PostgreSQL);
    the service may be writing it."""

    def __init__(self, url: str | Path) -> None:
        from execution.journal_reader import JournalReader

        self.reader = JournalReader(url)
        self.path = self.reader.where

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc) -> None:
        self.reader.close()

    @property
    def con(self):  # None when there is no journal yet
        return self.reader.con

    def _missing(self) -> Missing | None:
        if self.con is None:
            return Missing(
                f"no execution journal at {self.path}: nothing was paper traded (the paper stage starts "
                "the execution service, the serve stage sends it signals)"
            )
        return None

    def fills(self) -> pd.DataFrame | Missing:
        """Every fill with its order's asset, in the order the venues made them (market time)."""
        if (missing := self._missing()) is not None:
            return missing
        columns = ["venue", "fill_id", "asset", "side", "price", "amount", "fee", "at"]
        frame = pd.DataFrame(
            self.reader.rows(
                "SELECT f.venue, f.fill_id, o.asset, f.side, f.price, f.amount, f.fee, f.at FROM fills f "
                "JOIN orders o USING (client_order_id) ORDER BY f.at, f.venue, f.fill_id"
            ),
            columns=columns,
        )
        if frame.empty:
            return Missing("the execution journal has no fills yet")
        for col in ("price", "amount", "fee"):
            frame[col] = (
                frame[col].astype(str).astype(float)
            )  # Decimal text or NUMERIC; floats are fine for a picture
        frame["at"] = frame["at"].astype(float)
        frame["time"] = pd.to_datetime(frame["at"], unit="s")
        return frame

    def orders_by_state(self) -> dict[str, int]:
        if self.con is None:
            return {}
        return dict(self.reader.rows("SELECT state, count(*) FROM orders GROUP BY state ORDER BY state"))

    def signals_by_outcome(self) -> dict[str, int]:
        if self.con is None:
            return {}
        return dict(
            self.reader.rows("SELECT outcome, count(*) FROM signals GROUP BY outcome ORDER BY outcome")
        )

    def refusals_by_reason(self) -> dict[str, int]:
        if self.con is None:
            return {}
        return dict(self.reader.rows("SELECT reason, count(*) FROM refusals GROUP BY reason ORDER BY reason"))

    def live_orders(self) -> int:
        if self.con is None:
            return 0
        live = ("new", "submitted", "acknowledged", "partially_filled", "unknown")
        marks = ",".join("?" * len(live))
        # an order the venue reports filled whose fills have not reached the journal yet is in flight too
        orders = self.reader.rows(
            f"""SELECT count(*) FROM orders WHERE state IN ({marks})
                OR CAST(filled AS DECIMAL(38, 18)) < CAST(venue_filled AS DECIMAL(38, 18))""",
            live,
        )[0][0]
        # a sliced (TWAP/iceberg) order whose next slices are still to be sent
        slicing = 0  # a journal from before sliced orders were journalled has no parents table
        if self.reader.has_table("parents"):
            slicing = self.reader.rows("SELECT count(*) FROM parents WHERE status = 'working'")[0][0]
        return orders + slicing

    def signal_to_ack_ms(self) -> pd.Series:
        """Per signal that made orders: ms from its arrival to the first venue answer to one of them."""
        if self.con is None:
            return pd.Series(dtype=float)
        rows = self.reader.rows(
            """
            SELECT (min(e.at) - s.received_at) * 1000.0 FROM signals s
            JOIN orders o ON o.signal_id = s.signal_id
            JOIN order_events e ON e.client_order_id = o.client_order_id
                 AND e.from_state = 'submitted' AND e.to_state <> 'unknown'
            GROUP BY s.signal_id, s.received_at
            """
        )
        return pd.Series([r[0] for r in rows], dtype=float)
