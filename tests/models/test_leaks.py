"""The leak suite: every deliberately leaky pipeline is caught by a check, the honest one by none."""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner

from kimera.app.cli import main
from models.leak_checks import fill_timing
from models.leak_suite import CLEAN, VARIANTS, Variant, bars, fills, raw_minutes, run_suite, table


@pytest.fixture(scope="module")
def verdicts():
    return {v.variant.name: v for v in run_suite()}


def test_every_leaky_variant_is_caught_and_the_clean_pipeline_passes(verdicts) -> None:
    assert set(verdicts) == {CLEAN.name, *(v.name for v in VARIANTS)}
    assert verdicts["clean"].caught_by == [], [f.detail for f in verdicts["clean"].findings]
    missed = [name for name, v in verdicts.items() if name != "clean" and not v.caught_by]
    assert missed == []


@pytest.mark.parametrize(
    ("variant", "check"),
    [
        ("future_shift", "feature_truncation"),
        ("centred_window", "feature_truncation"),
        ("same_bar_label", "label_alignment"),
        ("all_rows_scaler", "prediction_truncation"),
        ("own_close_resample", "feature_truncation"),
        ("trade_at_signal_close", "fill_timing"),
    ],
)
def test_each_leak_is_caught_by_the_check_aimed_at_it(verdicts, variant: str, check: str) -> None:
    assert check in verdicts[variant].caught_by


def test_a_leak_no_check_sees_is_reported_missed_and_fails_the_suite() -> None:
    unseen = Variant("unseen", "a leak the checks do not look for")  # leaky by name, honest in fact
    (verdict,) = run_suite(variants=(unseen,))
    assert not verdict.ok
    assert "MISSED" in table([verdict])


def test_a_fill_after_the_signal_bar_at_its_old_close_is_caught_by_price() -> None:
    raw = raw_minutes(days=2)
    closes = bars(raw)
    signal = closes.iloc[[30]]
    late = pd.DataFrame(
        {
            "asset": signal["asset"].to_numpy(),
            "signal_time": signal["bar_time"].to_numpy(),
            "fill_time": signal["bar_time"].to_numpy() + pd.Timedelta(minutes=1),
            "price": signal["close"].to_numpy(),  # the signal bar's close, a minute later
        }
    )
    finding = fill_timing(late, raw)
    assert finding.leak and "did not trade" in finding.detail
    honest = fills(
        pd.DataFrame(
            {"part": "test", "position": 1.0, "asset": signal["asset"], "bar_time": signal["bar_time"]}
        ),
        raw,
    )
    assert not fill_timing(honest, raw).leak


def test_kimera_leaks_prints_the_table_and_exits_zero_when_all_are_caught() -> None:
    result = CliRunner().invoke(main, ["leaks"])
    assert result.exit_code == 0, result.output
    assert "6/6 leaky variants caught (100 %)" in result.output
    assert "trade_at_signal_close" in result.output and "fill_timing" in result.output


def test_the_same_raw_data_and_seed_give_byte_identical_predictions_and_fills() -> None:
    def run() -> tuple[bytes, bytes]:
        raw = raw_minutes()  # made afresh each time from its seed
        preds = CLEAN.predictions(raw)
        made = CLEAN.fills(raw, preds)
        return (
            pd.util.hash_pandas_object(preds, index=False).to_numpy().tobytes(),
            pd.util.hash_pandas_object(made, index=False).to_numpy().tobytes(),
        )

    first, second = run(), run()
    assert first == second
    assert len(first[0]) > 0 and len(first[1]) > 0  # rows were made to compare
