"""A spec the simulator cannot run is refused at construction, naming the field and what is accepted."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest

from marketsim import AssetSpec, PoolSpec, SimSpecError
from tests.marketsim.conftest import USDC_WETH, make_spec


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"start": datetime(2026, 1, 1, 6)}, r"start = .* naive UTC datetime at midnight"),
        ({"seed": -1}, r"seed = -1 .* an integer >= 0"),
        ({"bar_seconds": 7 * 60}, r"bar_seconds = 420 .* divides a day"),
        ({"book_depth": 0}, r"book_depth = 0 .* 1 to 500"),
        ({"signal_strength": float("nan")}, r"signal_strength = nan .* finite"),
        ({"pools": (PoolSpec(USDC_WETH, "USDC", "DOGE"),)}, r"pools\.0x.*token = 'DOGE' .* configured token"),
        ({"pools": (PoolSpec(USDC_WETH, "USDC", "WETH", dex="curve"),)}, r"dex = 'curve' .*uniswap_v2"),
    ],
)
def test_bad_specs_name_the_field_and_what_is_accepted(changes: dict, message: str) -> None:
    with pytest.raises(SimSpecError, match=message):
        make_spec(**changes)


def test_a_quote_that_is_not_a_dollar_is_refused() -> None:
    spec = make_spec()
    eth_in_btc = replace(spec.assets[1], quote="BTC")
    with pytest.raises(SimSpecError, match=r"assets.ETH.quote = 'BTC' .* USD-pegged"):
        replace(spec, assets=(spec.assets[0], eth_in_btc))
    with pytest.raises(SimSpecError, match=r"assets.SOL.token = 'SOL' .* configured token"):
        replace(spec, assets=(*spec.assets, AssetSpec("SOL", price=150, vol=0.9, token="SOL")))
