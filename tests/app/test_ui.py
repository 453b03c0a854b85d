"""``kimera ui`` end to end: ``dagster dev`` on the instance under KIMERA_HOME shows the ingest assets, a
partition launched from the UI's GraphQL API materialises rows, and a 3-partition backfill is one run."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime

import duckdb
import httpx
import pytest

from kimera.schema import PARTITIONED_TABLES, RAW_TABLES
from kimera.settings import Settings
from tests.support.dagster_ui import dagster_dev

pytestmark = pytest.mark.slow

LAUNCH_RUN = """
mutation($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on InvalidSubsetError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}"""

LAUNCH_BACKFILL = """
mutation($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
  }
}"""


class DagsterUI:
    def __init__(self, url: str) -> None:
        self.url = url
        self.client = httpx.Client(base_url=url, timeout=60)

    def gql(self, query: str, **variables) -> dict:
        response = self.client.post("/graphql", json={"query": query, "variables": variables})
        response.raise_for_status()
        body = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]

    def wait_for_run(self, run_id: str, timeout: float = 300) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = self.gql("query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }", id=run_id)
            status = run["runOrError"]["status"]
            if status in {"SUCCESS", "FAILURE", "CANCELED"}:
                return status
            time.sleep(1)
        raise AssertionError(f"run {run_id} did not finish in {timeout} s")

    def runs_with_tag(self, key: str, value: str) -> list[dict]:
        data = self.gql(
            """query($filter: RunsFilter) { runsOrError(filter: $filter) {
                 ... on Runs { results { runId status tags { key value } } } } }""",
            filter={"tags": [{"key": key, "value": value}]},
        )
        return data["runsOrError"]["results"]


@pytest.fixture
def ui(kimera_home: Settings) -> Iterator[DagsterUI]:
    with dagster_dev(kimera_home) as url:
        ui = DagsterUI(url)
        try:
            yield ui
        finally:
            ui.client.close()


def _rows(settings: Settings, table: str, start: datetime, end: datetime) -> int:
    column = RAW_TABLES[table].time_column
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return con.execute(
            f"SELECT count(*) FROM raw.{table} WHERE {column} >= ? AND {column} < ?", [start, end]
        ).fetchone()[0]


def test_the_ui_shows_the_ingest_assets_and_materialises_a_partition_and_a_backfill(ui, kimera_home) -> None:
    assert (kimera_home.dagster_home / "dagster.yaml").read_text().count("enabled: false") == 1
    nodes = ui.gql("{ assetNodes { assetKey { path } groupName isPartitioned } }")["assetNodes"]
    ingest = {tuple(n["assetKey"]["path"]): n for n in nodes if n["groupName"] == "ingest"}
    assert set(ingest) == {("raw", name) for name in RAW_TABLES}
    assert all(ingest[("raw", t.name)]["isPartitioned"] for t in PARTITIONED_TABLES)

    # One partition of every partitioned table, as the UI's "Materialize" button launches it.
    selector = {
        "repositoryLocationName": "kimera",
        "repositoryName": "__repository__",
        "jobName": "ingest_raw",
    }
    launched = ui.gql(
        LAUNCH_RUN,
        params={
            "selector": selector,
            "executionMetadata": {"tags": [{"key": "dagster/partition", "value": "2026-01-01-05:00"}]},
        },
    )["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    assert ui.wait_for_run(launched["run"]["runId"]) == "SUCCESS"
    hour = (datetime(2026, 1, 1, 5), datetime(2026, 1, 1, 6))
    assert _rows(kimera_home, "exchange_ohlcv", *hour) > 0
    assert _rows(kimera_home, "chain_blocks", *hour) > 0

    # A 3-partition backfill of two assets: the daemon makes one run of it (single-run policy).
    backfill = ui.gql(
        LAUNCH_BACKFILL,
        params={
            "partitionNames": ["2026-01-02-00:00", "2026-01-02-01:00", "2026-01-02-02:00"],
            "assetSelection": [{"path": ["raw", "exchange_ohlcv"]}, {"path": ["raw", "dex_swaps"]}],
        },
    )["launchPartitionBackfill"]
    assert backfill["__typename"] == "LaunchBackfillSuccess", backfill
    deadline = time.monotonic() + 300
    while not (runs := ui.runs_with_tag("dagster/backfill", backfill["backfillId"])):
        assert time.monotonic() < deadline, "the backfill made no run in 300 s"
        time.sleep(2)
    assert ui.wait_for_run(runs[0]["runId"]) == "SUCCESS"
    assert len(ui.runs_with_tag("dagster/backfill", backfill["backfillId"])) == 1
    window = (datetime(2026, 1, 2, 0), datetime(2026, 1, 2, 3))
    assert _rows(kimera_home, "exchange_ohlcv", *window) == 3 * _rows(kimera_home, "exchange_ohlcv", *hour)
