"""Ensemble weights come from validation rows only; the device setting is honoured or refused clearly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.determinism import resolve_device
from models.ensemble import fit_weights
from models.walk_forward import MemberRun, run_ensemble
from models.windows import load_windows, save_windows

from .conftest import small_config


def test_weights_favour_the_member_that_was_right_on_validation() -> None:
    rng = np.random.default_rng(0)
    up = (rng.random(2000) < 0.5).astype(float)
    informed = np.where(up == 1, 0.65, 0.35)
    noise = rng.uniform(0.3, 0.7, 2000)
    weights = fit_weights([informed, noise], up)
    assert weights[0] > 0.9 and weights.sum() == pytest.approx(1.0)


def _member_rows(model: str, p_up_val: np.ndarray, p_up_test: np.ndarray) -> pd.DataFrame:
    n = len(p_up_val)
    times = pd.date_range("2026-01-01", periods=2 * n, freq="1h")
    fwd = np.tile([0.01, -0.01], n)
    p = np.concatenate([p_up_val, p_up_test])
    return pd.DataFrame(
        {
            "model": model, "seed": 0, "window": 0, "part": ["val"] * n + ["test"] * n, "asset": "BTC",
            "bar_time": times, "forecast": p - 0.5, "lower": p - 0.6, "upper": p - 0.4, "p_up": p,
            "position": 0.0, "fwd_ret": fwd,
        }
    )  # fmt: skip


def test_test_rows_never_move_the_ensemble_weights() -> None:
    cfg = small_config()
    val_good = np.tile([0.7, 0.3], 100)
    val_bad = np.full(200, 0.5)
    a = run_ensemble(
        [MemberRun("a", _member_rows("a", val_good, np.full(200, 0.5))),
         MemberRun("b", _member_rows("b", val_bad, np.full(200, 0.5)))], cfg,
    )  # fmt: skip
    # member b is perfect on the test rows: an ensemble that peeked would now favour it
    b = run_ensemble(
        [MemberRun("a", _member_rows("a", val_good, np.full(200, 0.5))),
         MemberRun("b", _member_rows("b", val_bad, np.tile([0.99, 0.01], 100)))], cfg,
    )  # fmt: skip
    assert a.logs[0]["a"] == b.logs[0]["a"] > 0.9


def test_device_auto_falls_back_to_cpu_and_cuda_without_gpu_is_refused() -> None:
    import torch

    assert resolve_device("cpu") == "cpu"
    if torch.cuda.is_available():
        assert resolve_device("auto") == "cuda"
    else:
        assert resolve_device("auto") == "cpu"
        with pytest.raises(ValueError, match="KIMERA_DEVICE=cuda but torch sees no CUDA GPU"):
            resolve_device("cuda")


def test_saved_windows_load_identical(planted_windows, tmp_path) -> None:
    save_windows(planted_windows, tmp_path / "w.npz")
    back = load_windows(tmp_path / "w.npz")
    np.testing.assert_array_equal(back.x, planted_windows.x)
    np.testing.assert_array_equal(back.bar_time, planted_windows.bar_time)
    assert back.asset.tolist() == planted_windows.asset.tolist()
    np.testing.assert_array_equal(back.past_ret, planted_windows.past_ret)
    assert back.feature_names == planted_windows.feature_names and back.dropped == planted_windows.dropped


def _rows(model: str, window: int, part: str, start: str, p_up: np.ndarray) -> pd.DataFrame:
    n = len(p_up)
    return pd.DataFrame(
        {
            "model": model, "seed": 0, "window": window, "part": part, "asset": "BTC",
            "bar_time": pd.date_range(start, periods=n, freq="1h"), "forecast": p_up - 0.5,
            "lower": p_up - 0.6, "upper": p_up - 0.4, "p_up": p_up, "position": 0.0,
            "fwd_ret": np.tile([0.01, -0.01], n // 2),
        }
    )  # fmt: skip


def test_earlier_out_of_sample_rows_inform_later_weights_but_never_rows_inside_the_purge() -> None:
    cfg = small_config()
    right, flat = np.tile([0.7, 0.3], 100), np.full(200, 0.5)

    def member(name: str, earlier_test: np.ndarray, late_test: np.ndarray) -> MemberRun:
        return MemberRun(
            name,
            pd.concat(
                [
                    _rows(name, 0, "val", "2026-01-01", flat),
                    _rows(name, 0, "test", "2026-01-10", earlier_test),  # before window 1's validation
                    _rows(name, 1, "val", "2026-01-20", flat),
                    _rows(name, 1, "test", "2026-02-01", flat),
                    _rows(name, 2, "val", "2026-01-25", flat),  # window 1's test overlaps this val: unusable
                    _rows(name, 2, "test", "2026-02-10", late_test),
                ]
            ),
        )

    run = run_ensemble([member("a", right, flat), member("b", flat, right)], cfg)
    weights = {(log["window"]): log for log in run.logs}
    assert weights[0]["weight_rows"] == 200  # its own validation only
    assert weights[1]["weight_rows"] == 400 and weights[1]["a"] > 0.9  # window 0's test rows count
    # window 1's test rows start after window 2's validation starts: left out, so b never gains
    assert weights[2]["weight_rows"] == 400 and weights[2]["a"] > 0.9
