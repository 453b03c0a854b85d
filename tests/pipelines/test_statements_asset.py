"""The ``statements/daily`` asset: one Dagster materialisation per day writes every account's statement."""

from __future__ import annotations

import io

import dagster as dg
import pytest
from pypdf import PdfReader

from kimera.config import load_config
from pipelines.resources import KimeraResource
from pipelines.statements.assets import StatementFailed, build_statement_asset
from tests.conftest import REPO_ROOT
from tests.execution.test_statements import day_journal  # noqa: F401  (fixture)


def _materialise(day: str, raise_on_error: bool = True):
    asset = build_statement_asset(load_config(REPO_ROOT / "kimera.yaml"))
    return dg.materialize(
        [asset], partition_key=day, raise_on_error=raise_on_error,
        resources={"kimera": KimeraResource(config_path=str(REPO_ROOT / "kimera.yaml"))},
    )  # fmt: skip


def test_a_days_partition_writes_the_statement_and_records_it(day_journal, kimera_home):  # noqa: F811
    result = _materialise("2026-04-02")
    (mat,) = result.asset_materializations_for_node("statements__daily")
    assert mat.partition == "2026-04-02"
    assert mat.metadata["accounts"].value == ["default"] and mat.metadata["fills"].value == 2
    pdf = kimera_home.home_dir / "statements" / "default" / "2026-04-02.pdf"
    assert mat.metadata["pdf"].value == [str(pdf)]
    text = PdfReader(io.BytesIO(pdf.read_bytes())).pages[0].extract_text()
    assert "2026-04-02" in text and "45.26" in text


def test_without_a_journal_the_run_fails_saying_nothing_has_traded(kimera_home):
    with pytest.raises(StatementFailed, match="no journal at .*nothing has traded yet"):
        _materialise("2026-04-02")
    assert not (kimera_home.home_dir / "statements").exists()
