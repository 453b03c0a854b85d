"""What a run would refuse is refused when the config loads, naming the key; and the simulated
chain's block numbers do not move with `start`."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kimera.config import ConfigError
from pipelines.sources import make_sources
from tests.pipelines.features.conftest import dbt_manifest  # noqa: F401  (the code location needs it)
from tests.support.config import config_with, shipped_config_data


def test_a_bar_that_is_not_whole_candles_is_refused_at_load():
    with pytest.raises(
        ConfigError, match=r"features.bar = '1h' .* whole number of exchange.timeframe = '4h'"
    ):
        config_with(exchange={"source": "sim", "timeframe": "4h"})


def _real_chain(data: dict) -> dict:
    token = {"symbol": "TKA", "address": "0x" + "1" * 40, "decimals": 18}  # a real token: no `asset`
    pool = {"address": "0x" + "2" * 40, "dex": "uniswap_v2", "token0": "TKA", "token1": "USDC"}
    return dict(
        chain={**data["chain"], "source": "rpc", "rpc_url": "http://127.0.0.1:8545",
               "tokens": [*data["chain"]["tokens"], token]},
        dex={"source": "rpc", "pools": [*data["dex"]["pools"], pool]},
    )  # fmt: skip


def test_a_simulated_exchange_beside_a_real_chain_runs():
    # it used to validate, then stop at run time: "tokens.TKA.asset = None is not accepted"
    config = config_with(**_real_chain(shipped_config_data()))
    start = config.start_time
    candles = make_sources(config).exchange.ohlcv(start, start + timedelta(hours=1))
    assert candles.num_rows == 3 * 2 * 60  # three simulated venues, two assets, a minute each


def test_what_the_simulated_sources_would_refuse_is_refused_when_the_code_location_loads(
    kimera_home,
    dbt_manifest,  # noqa: F811
):
    from pipelines.definitions import build_location

    data = shipped_config_data()
    config = config_with(assets=[*data["assets"], {"symbol": "SOL", "quote": "USDT"}], **_real_chain(data))
    with pytest.raises(ConfigError, match=r"exchange.source = 'sim': .*sim.assets has no entry for 'SOL'"):
        build_location(settings=kimera_home, config=config)


def test_moving_start_keeps_every_simulated_block_number_and_time():
    early = config_with(start="2026-01-01")
    late = config_with(start="2026-01-03")
    hour = late.start_time + timedelta(hours=5)
    window = (hour, hour + timedelta(hours=1))
    blocks = [
        make_sources(c).chain.blocks(*window).select(["block_number", "ts"]).to_pylist()
        for c in (early, late)
    ]
    assert blocks[0] == blocks[1] and len(blocks[0]) == 300
