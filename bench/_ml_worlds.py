"""Worlds for the model benchmarks and honesty tests, in the shape of the dbt marts.

``simulated_world`` reads the simulator's evaluation-only planted-signal table: its observable
(net exchange inflow of the asset's token over the bar, what the chain data carries) becomes a
feature beside the asset's own past returns; the label is the next bars' fair log return; the
oracle is the simulator's Bayes-optimal direction. Once the dbt marts run in the benchmark this is
replaced by ``marts.features``/``marts.labels`` built from the simulator's raw tables.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd

from models.synthetic import World


def simulated_world(days: int = 90, strength: float | None = None, seed: int | None = None) -> World:
    """A world of ``days`` hourly bars from the repository's config (``sim.*`` overridable)."""
    from connect.sim import simulator_from_config
    from kimera.config import load_config

    config = load_config()
    sim_section = config.sim.model_copy(
        update={k: v for k, v in (("signal_strength", strength), ("seed", seed)) if v is not None}
    )
    config = config.model_copy(update={"sim": sim_section})
    simulator = simulator_from_config(config)
    start, end = config.start_time, config.start_time + timedelta(days=days)
    planted = simulator.planted_signal(start, end).to_pandas()
    planted["bar_time"] = planted["bar_time"].astype("datetime64[us]")
    features, labels = [], []
    for asset, rows in planted.groupby("asset", sort=True):
        rows = rows.sort_values("bar_time")
        ret = rows["fwd_ret"].to_numpy()
        past = np.concatenate([[np.nan], ret[:-1]])  # the bar that just closed
        frame = pd.DataFrame(
            {
                "asset": asset,
                "bar_time": rows["bar_time"].to_numpy(),
                "net_inflow": rows["net_inflow"].to_numpy(),
                "ret_1": past,
                "ret_6": pd.Series(past).rolling(6).sum().to_numpy(),
                "vol_24": pd.Series(past).rolling(24).std().to_numpy(),
            }
        )
        features.append(frame)
        fwd = ret.copy()
        fwd[-1] = np.nan  # the newest bar's next close is not in the window
        labels.append(
            pd.DataFrame(
                {
                    "asset": asset,
                    "bar_time": rows["bar_time"].to_numpy(),
                    "fwd_ret_1": fwd,
                    "fwd_dir_1": np.where(np.isnan(fwd), np.nan, (fwd > 0).astype(float)),
                }
            )
        )
    truth = planted[["asset", "bar_time"]].copy()
    truth["oracle_up"] = (planted["p_up"] > 0.5).astype(float)
    truth["bayes_p_correct"] = np.maximum(planted["p_up"], 1 - planted["p_up"])
    return World(
        features=pd.concat(features, ignore_index=True),
        labels=pd.concat(labels, ignore_index=True),
        truth=truth,
        bayes_accuracy=float(simulator.bayes_accuracy(start, end).expected),
    )


def marts_world(
    home, days: int = 90, strength: float | None = None, seed: int | None = None
) -> tuple[World, list[str]]:
    """The real pipeline's world: simulated raw tables in ``home``'s warehouse, ``dbt build``, then
    ``marts.features``/``marts.labels`` as the models see them; the oracle from the simulator.

    Returns the world and the feature columns the marts carry.
    """
    import importlib
    from pathlib import Path

    import duckdb

    from connect.sim import simulator_from_config
    from kimera.config import load_config

    # the features domain (dbt) by name: this module must import where it is not installed yet
    dbt_cli = importlib.import_module("pipelines.features.dbt_cli")
    project = importlib.import_module("pipelines.features.project")
    sim_data = importlib.import_module("pipelines.features.sim_data")

    home = Path(home)
    home.mkdir(parents=True, exist_ok=True)
    config = load_config()
    sim_section = config.sim.model_copy(
        update={k: v for k, v in (("signal_strength", strength), ("seed", seed)) if v is not None}
    )
    config = config.model_copy(update={"sim": sim_section})
    start, end = config.start_time, config.start_time + timedelta(days=days)
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        sim_data.load_sim_reference(con, config)
        sim_data.load_sim_window(con, config, start, end)
    dbt_cli.run_dbt(["build"], home=home, dbt_vars=project.dbt_vars(config))
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        features = con.execute("SELECT * FROM marts.features").df()
        labels = con.execute("SELECT * FROM marts.labels").df()
    simulator = simulator_from_config(config)
    planted = simulator.planted_signal(start, end).to_pandas()
    truth = planted[["asset", "bar_time"]].copy()
    truth["bar_time"] = truth["bar_time"].astype("datetime64[us]")
    truth["oracle_up"] = (planted["p_up"] > 0.5).astype(float)
    truth["bayes_p_correct"] = np.maximum(planted["p_up"], 1 - planted["p_up"])
    names = [c for c in features.columns if c not in ("asset", "bar_time")]
    world = World(features, labels, truth, float(simulator.bayes_accuracy(start, end).expected))
    return world, names
