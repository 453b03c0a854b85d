"""``kimera reproduce``: orders placed by the execution service from a stored model's predictions are
rebuilt from their point-in-time feature rows and artefact, bit for bit; a missing input is named."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from types import SimpleNamespace

import duckdb
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from kimera.app.cli import main
from tests.execution.conftest import exec_env, paper  # noqa: F401 (fixtures)

TRAIN_END = datetime(2026, 2, 1)
MODELS = {"seq_len": 12, "train_bars": 500, "val_bars": 120, "test_bars": 150, "max_windows": 1, "seeds": [0]}


def _marts(settings, world) -> None:
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(settings.warehouse_path)) as con:
        con.execute("CREATE SCHEMA IF NOT EXISTS marts")
        con.register("f", world.features)
        con.register("l", world.labels)
        con.execute("CREATE OR REPLACE TABLE marts.features AS SELECT * FROM f")
        con.execute("CREATE OR REPLACE TABLE marts.labels AS SELECT * FROM l")


def _predict_and_trade(settings, config_path) -> dict[str, object]:
    """Train and store a linear model, predict the bars after its data from all the marts, and send the
    strongest forecast of each asset to an in-process execution service as its signal."""
    from execution.service import ExecutionService
    from kimera.config import ModelsConfig, load_config
    from models.marts import align
    from models.registry import save_model
    from models.synthetic import make_world
    from models.walk_forward import final_fold, train_final_member
    from models.windows import make_windows

    world = make_world(bars=900, strength=0.5, seed=11)
    _marts(settings, world)
    cfg = ModelsConfig.model_validate(MODELS)
    marts = align(world.features, world.labels, 1)
    model = train_final_member("linear", make_windows(marts.until(TRAIN_END), cfg.seq_len), cfg)
    fold = final_fold(make_windows(marts.until(TRAIN_END), cfg.seq_len), cfg)
    window = (fold.train_start.astype(datetime), fold.train_end.astype(datetime))
    tag = save_model(model, data_window=window, metrics={"log_loss": 0.69}, settings=settings).tag
    everything = make_windows(marts, cfg.seq_len)  # the predictions were made with later bars present
    after = everything.take(np.flatnonzero(everything.bar_time >= np.datetime64(TRAIN_END, "us")))
    after = after.select(model.feature_names)  # the columns the model kept
    fc = model.predict(after.x, list(after.asset))
    bodies = []
    for asset in ("BTC", "ETH"):
        i = np.flatnonzero(after.asset == asset)[np.argmax(np.abs(fc.ret[after.asset == asset]))]
        bodies.append(
            {
                "signal_id": f"pred-{asset}", "prediction_id": f"pred-{asset}", "asset": asset, "model_tag": tag,
                "feature_time": pd.Timestamp(after.bar_time[i]).strftime("%Y-%m-%dT%H:%M:%SZ"), "horizon": 1,
                "forecast": float(fc.ret[i]), "lower": float(fc.lower[i]), "upper": float(fc.upper[i]),
                "p_up": float(fc.p_up[i]),
            }
        )  # fmt: skip

    async def trade() -> list[str]:
        service = ExecutionService(load_config(config_path), settings)
        await service.start()
        try:
            for body in bodies:
                await service.handle_signal(body)
            deadline = time.time() + 30
            while time.time() < deadline and not (
                service.oms.orders and all(o.settled for o in service.oms.orders.values())
            ):
                await service.oms.reconcile()
                await asyncio.sleep(0.2)
            return sorted(service.oms.orders)
        finally:
            await service.stop()

    orders = asyncio.run(trade())
    return {"tag": tag, "orders": orders, "bodies": bodies}


@pytest.fixture
def traded(kimera_home, exec_env, paper, monkeypatch):  # noqa: F811 (fixtures)
    from kimera.settings import get_settings

    config_path, _ = exec_env
    monkeypatch.setenv("KIMERA_CONFIG", str(config_path))
    get_settings.cache_clear()
    settings = get_settings()
    made = _predict_and_trade(settings, config_path)
    assert made["orders"], "the service placed no order from the signals"
    return SimpleNamespace(settings=settings, journal=f"sqlite:///{settings.journal_path}", **made)


def _run(*args: str):
    return CliRunner().invoke(main, ["reproduce", *args])


@pytest.mark.slow  # a paper venue server and the service per test: ~15-20 s
def test_every_order_is_rebuilt_bit_for_bit_from_rows_known_at_its_feature_time(traded) -> None:
    from kimera.app.reproduce import reproduce

    for order_id in traded.orders:
        result = reproduce(order_id, traded.journal, traded.settings)
        assert result.model_tag == traded.tag
        assert result.verdict == "bitwise", result.lines()
    # rows after the feature time are never read: rewriting them changes nothing
    feature_times = {b["asset"]: b["feature_time"].rstrip("Z") for b in traded.bodies}
    with duckdb.connect(str(traded.settings.warehouse_path)) as con:
        for asset, t in feature_times.items():
            con.execute(
                "UPDATE marts.features SET ret_1 = 1.0, flow_z = -5.0 WHERE asset = ? AND bar_time > ?",
                [asset, t],
            )
    out = _run(traded.orders[0], "--journal", traded.journal)
    assert out.exit_code == 0, out.output
    assert "BITWISE (every number equal bit for bit)" in out.output
    every = _run("--all", "--journal", traded.journal)
    n = len(traded.orders)
    assert every.exit_code == 0 and f"{n}/{n} orders reproduced ({n} bitwise)" in every.output, every.output


@pytest.mark.slow
def test_a_changed_feature_row_a_deleted_model_or_an_unknown_order_is_said_plainly(traded) -> None:
    from models.registry import delete_model

    order = traded.orders[0]
    unknown = _run("no-such-order", "--journal", traded.journal)
    assert unknown.exit_code == 2 and "no order 'no-such-order' in the journal" in unknown.output
    with duckdb.connect(str(traded.settings.warehouse_path)) as con:  # the feature row itself, revised
        con.execute("UPDATE marts.features SET flow_z = flow_z + 3.0")
    changed = _run(order, "--journal", traded.journal)
    assert changed.exit_code == 1 and "MISMATCH" in changed.output, changed.output
    delete_model(traded.tag, traded.settings)
    gone = _run(order, "--journal", traded.journal)
    assert gone.exit_code == 2, gone.output
    assert f"the model artefact {traded.tag} is not in the store" in gone.output
