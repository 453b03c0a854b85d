"""The feature screen: the planted signal passes, noise does not (that only the fit part decides is
held by the truncation tests in test_honesty.py)."""

from __future__ import annotations

from models.marts import align
from models.selection import feature_t_stats, screen_features
from models.synthetic import make_world
from models.windows import make_windows


def _windows(strength: float, seed: int):
    world = make_world(bars=900, strength=strength, seed=seed)
    return make_windows(align(world.features, world.labels, 1), 12)


def test_a_planted_signal_passes_the_screen_and_the_noise_columns_do_not() -> None:
    windows = _windows(0.3, seed=2)
    t = feature_t_stats(windows)
    assert abs(t["flow_z"]) > 6 and max(abs(v) for k, v in t.items() if k != "flow_z") < 3
    assert screen_features(windows, 4.0) == ("flow_z",)
    assert screen_features(windows, 0.0) == windows.feature_names  # 0 keeps every feature


def test_with_nothing_to_find_the_strongest_single_column_is_kept() -> None:
    windows = _windows(0.0, seed=3)
    t = feature_t_stats(windows)
    kept = screen_features(windows, 4.0)
    assert len(kept) == 1 and abs(t[kept[0]]) == max(abs(v) for v in t.values()) < 4
