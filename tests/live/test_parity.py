"""Online features equal dbt's marts.features: the same raw events, every column of every bar."""

from __future__ import annotations

import shutil
from datetime import timedelta

import pytest

from pipelines.features.online_sql import compile_online_features
from pipelines.features.project import DBT_PROJECT_DIR
from tests.dbt.compare import assert_same_rows, read_table
from tests.live.conftest import build_batch
from tests.live.run import as_frame, run_online

KEYS = ["asset", "bar_time"]
pytestmark = pytest.mark.slow


@pytest.mark.parametrize("workers", [1, 2], ids=["one-by-one", "at-once"])
def test_online_features_equal_the_batch_build(compiled, batch_home, live_config, live_window, workers):
    """Models run one after another in one transaction, or at once as ``kimera live`` ships them
    (``live.feature_workers``): the same rows as dbt's either way."""
    batch = read_table(batch_home, "marts.features", KEYS)
    online = as_frame(run_online(compiled, live_config, *live_window, workers=workers), list(batch.columns))

    assert len(batch) == 2 * 48  # two assets, a day of 30-minute bars
    assert_same_rows(batch, online, KEYS, "online vs marts.features")
    # every feature is warm somewhere in the window, so each column was really compared
    cold = [c for c in batch.columns if c not in KEYS and online[c].notna().sum() == 0]
    assert not cold, f"never computed in the window: {cold}"


def test_a_changed_definition_changes_both(tmp_path, compiled, live_config, live_window):
    """Editing one formula in the dbt project changes the batch mart and the online loop alike."""
    project = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    features_sql = project / "models" / "marts" / "features.sql"
    shipped = "log_close_dispersion * 1e4 as dispersion_bps"
    assert shipped in features_sql.read_text()
    features_sql.write_text(
        features_sql.read_text().replace(shipped, "log_close_dispersion * 1e3 as dispersion_bps")
    )

    start = live_window[0]
    end = start + timedelta(hours=3)
    changed = compile_online_features(live_config, tmp_path / "compiled", project_dir=project)
    batch = read_table(
        build_batch(tmp_path / "batch", live_config, start, end, project_dir=project), "marts.features", KEYS
    )
    online = as_frame(run_online(changed, live_config, start, end), list(batch.columns))
    before = as_frame(run_online(compiled, live_config, start, end), list(batch.columns))

    assert_same_rows(batch, online, KEYS, "changed online vs changed marts.features")
    assert online["dispersion_bps"].notna().all()
    assert (online["dispersion_bps"] * 10).tolist() == pytest.approx(
        before["dispersion_bps"].tolist(), rel=1e-12
    )
