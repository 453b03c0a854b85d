"""The demo's serve stage on the home instance: gate, bento, then predictions from a started server."""

from __future__ import annotations

import io
from datetime import datetime

import duckdb
import pytest

from tests.bentos.world import write_config
from tests.pipelines.serving.conftest import SERVING, T1
from tests.support.net import free_port


@pytest.mark.slow
def test_serve_stage_promotes_packages_and_predicts_the_newest_bars(gate_home, tmp_path, monkeypatch) -> None:
    from rich.console import Console
    from rich.progress import Progress

    from bentos.build import bento_store
    from kimera.app.demo.context import DemoContext
    from kimera.app.demo.serve import serve_stage
    from kimera.config import load_config
    from kimera.settings import get_settings, prepare_home
    from pipelines.resources import location_config

    config_path = write_config(
        tmp_path / "demo.yaml", serving={**SERVING, "port": free_port()}, execution={"port": free_port()}
    )
    monkeypatch.setenv("KIMERA_CONFIG", str(config_path))
    get_settings.cache_clear()
    location_config.cache_clear()
    settings = prepare_home(get_settings())
    stored = gate_home.save(T1)
    console = Console(file=io.StringIO())
    with Progress(console=console) as progress:
        ctx = DemoContext(
            settings,
            load_config(settings=settings),
            datetime(2026, 1, 1),
            datetime(2026, 2, 12),
            progress,
            console,
        )
        try:
            lines = serve_stage(ctx)
            runs = ctx.instance.get_runs()
        finally:
            ctx.close()
    location_config.cache_clear()
    assert lines[0] == f"serve: served model {stored.tag}"
    assert lines[1] == f"  last gate decision: promoted {stored.tag} (no model was promoted yet)"
    [bento] = bento_store(settings).list("kimera-forecaster")
    assert f"bento {bento.tag}" in lines[2] and bento.info.labels["model"] == stored.tag
    assert [line.split()[0] for line in lines[4:6]] == ["BTC", "ETH"] and "P(up)" in lines[4]
    assert lines[-1] == "  signals accepted by the execution service so far: 0"  # none runs in this test
    assert sorted(r.job_name for r in runs) == ["serving", "signals"] and all(r.is_success for r in runs)
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        per_asset = con.execute(
            "SELECT asset, count(*) FROM ml.predictions GROUP BY asset ORDER BY asset"
        ).fetchall()
    assert [a for a, _ in per_asset] == ["BTC", "ETH"] and all(n > 0 for _, n in per_asset)


def test_serve_stage_says_it_has_nothing_to_serve_before_a_model_is_trained(kimera_home) -> None:
    from types import SimpleNamespace

    from kimera.app.demo.serve import serve_stage
    from kimera.config import load_config

    ctx = SimpleNamespace(settings=kimera_home, config=load_config(settings=kimera_home))
    assert serve_stage(ctx) == [
        "serve: skipped: no kimera-ensemble in the model store yet (the train stage makes one)"
    ]
