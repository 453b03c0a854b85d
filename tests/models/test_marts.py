"""Reading the dbt marts: the contract is checked, and "as of" a time nothing later is visible."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from models.marts import MartsError, align, read_marts
from models.synthetic import make_world


@pytest.fixture(scope="module")
def world():
    return make_world(bars=200, strength=0.3, horizons=(1, 4))


def test_align_joins_the_horizon_labels_and_keeps_every_feature(world) -> None:
    marts = align(world.features, world.labels, horizon=4)
    assert set(marts.feature_names) == {"ret_1", "ret_4", "vol_24", "flow_z", "noise_a", "volume_z"}
    assert len(marts.frame) == len(world.features)
    btc = marts.frame[marts.frame["asset"] == "BTC"].reset_index(drop=True)
    expected = world.labels[world.labels["asset"] == "BTC"]["fwd_ret_4"].to_numpy()
    np.testing.assert_array_equal(btc["fwd_ret"].to_numpy(), expected)


def test_missing_horizon_is_named_with_what_exists(world) -> None:
    with pytest.raises(MartsError, match=r"no \['fwd_ret_24', 'fwd_dir_24'\] for horizon 24.*fwd_ret_1"):
        align(world.features, world.labels, horizon=24)


def test_duplicate_bars_and_unknown_features_are_refused(world) -> None:
    doubled = pd.concat([world.features, world.features.head(3)])
    with pytest.raises(MartsError, match="3 duplicate"):
        align(doubled, world.labels, 1)
    with pytest.raises(MartsError, match=r"feature\(s\) \['rsi_14'\] not in marts.features"):
        align(world.features, world.labels, 1, ["flow_z", "rsi_14"])


def test_as_of_a_time_labels_that_end_later_are_unknown(world) -> None:
    marts = align(world.features, world.labels, horizon=4)
    end = pd.Timestamp(marts.bar_times[100])
    past = marts.until(end)
    assert past.frame["bar_time"].max() < end
    # a label at t needs the close at t + 4 bars: the last 4 bars before `end` cannot know it
    last = past.frame[past.frame["asset"] == "BTC"].tail(5)
    assert last["fwd_ret"].iloc[:1].notna().all()
    assert last["fwd_ret"].iloc[1:].isna().all()


def test_read_marts_from_duckdb_with_a_training_end(world, tmp_path) -> None:
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("CREATE SCHEMA marts")
    con.register("f", world.features)
    con.register("l", world.labels)
    con.execute("CREATE TABLE marts.features AS SELECT * FROM f")
    con.execute("CREATE TABLE marts.labels AS SELECT * FROM l")
    end = pd.Timestamp("2026-01-05 00:00")
    marts = read_marts(con, horizon=1, end=end.to_pydatetime())
    assert marts.frame["bar_time"].max() == end - pd.Timedelta("1h")
    assert marts.frame.groupby("asset")["fwd_ret"].apply(lambda s: s.isna().iloc[-1]).all()
    con.close()


def test_read_marts_without_marts_says_to_build_them(tmp_path) -> None:
    con = duckdb.connect(str(tmp_path / "empty.duckdb"))
    with pytest.raises(MartsError, match="marts.features does not exist"):
        read_marts(con, horizon=1)
    con.close()
