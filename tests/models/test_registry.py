"""The registry: saved to the BentoML store under KIMERA_HOME, loaded back bit for bit."""

from __future__ import annotations

import json
from datetime import datetime

import numpy as np
import pytest
import torch

from models.registry import RegistryError, list_models, load_model, save_model
from models.walk_forward import final_fold, train_final

from .conftest import small_config


@pytest.fixture(scope="module")
def trained(planted_windows):
    cfg = small_config(seeds=[5])
    return cfg, train_final(planted_windows, cfg)


def test_every_kind_round_trips_bit_for_bit(kimera_home, trained, planted_windows) -> None:
    cfg, models = trained
    fold = final_fold(planted_windows, cfg)
    window = (fold.train_start.astype(datetime), fold.train_end.astype(datetime))
    for kind, model in models.items():
        stored = save_model(model, data_window=window, metrics={"accuracy": 0.61}, seeds=[5])
        assert stored.name == f"kimera-{kind}"
        assert stored.path.is_relative_to(kimera_home.home_dir / "bentoml" / "models")
        loaded = load_model(stored.tag)
        before, after = model.predict_windows(planted_windows), loaded.predict_windows(planted_windows)
        for field in ("ret", "quantiles", "p_up"):
            assert np.array_equal(getattr(before, field), getattr(after, field)), (kind, field)


def test_one_window_at_a_time_gives_the_batch_numbers(kimera_home, trained, planted_windows) -> None:
    _, models = trained
    stored = save_model(models["ensemble"], data_window=(datetime(2026, 1, 1), datetime(2026, 2, 1)))
    model = load_model(stored.tag)
    batch = model.predict_windows(planted_windows)
    own = planted_windows.select(model.feature_names)  # what a server sends: the model's own columns
    for i in (0, 17, len(own) - 1):
        one = model.predict(own.x[i : i + 1], own.asset[i : i + 1])
        assert one.ret[0] == batch.ret[i] and one.p_up[0] == batch.p_up[i]


def test_metadata_and_files_say_what_the_model_is(kimera_home, trained) -> None:
    _, models = trained
    stored = save_model(
        models["lstm"],
        data_window=(datetime(2026, 1, 1), datetime(2026, 2, 1)),
        metrics={"sharpe": 1.2},
        seeds=[5],
    )
    meta = stored.metadata
    assert meta["features"] == ["flow_z"]  # the feature screen kept the planted signal, no noise column
    assert meta["seq_len"] == 12 and meta["horizon"] == 1 and meta["quantiles"] == [0.1, 0.5, 0.9]
    assert meta["data_window"] == {"start": "2026-01-01T00:00:00", "end": "2026-02-01T00:00:00"}
    assert meta["metrics"] == {"sharpe": 1.2} and meta["seeds"] == [5]
    assert meta["assets"] == ["BTC", "ETH"] and meta["code_version"]
    assert stored.labels["kind"] == "lstm" and stored.labels["horizon"] == "1"
    assert {p.name for p in stored.path.iterdir()} >= {"config.json", "scaler.npz", "state_dict.pt"}
    assert json.loads((stored.path / "config.json").read_text())["params"]["hidden"] == 16
    # the weights are plain tensors: loadable with weights_only=True (no pickled code)
    state = torch.load(stored.path / "state_dict.pt", weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())


def test_newest_version_by_name_and_clear_error_for_unknown(kimera_home, trained) -> None:
    _, models = trained
    window = (datetime(2026, 1, 1), datetime(2026, 2, 1))
    first = save_model(models["linear"], data_window=window)
    second = save_model(models["linear"], data_window=window)
    assert [m.tag for m in list_models("kimera-linear")] == [second.tag, first.tag]
    with pytest.raises(
        RegistryError, match=r"no model 'kimera-nope' in the store; stored names: \['kimera-linear'\]"
    ):
        load_model("kimera-nope")


def test_a_loaded_model_scores_like_the_one_that_was_saved(kimera_home, trained, planted_windows) -> None:
    from models.evaluation import score_model

    _, models = trained
    stored = save_model(models["ensemble"], data_window=(datetime(2026, 1, 1), datetime(2026, 2, 1)))
    before = score_model(models["ensemble"], planted_windows, horizon=1, fee_bps=10)
    after = score_model(load_model(stored.tag), planted_windows, horizon=1, fee_bps=10)
    assert before == after
    assert before["n"] == int(planted_windows.labelled.sum()) and 0.5 < before["accuracy"] < 1
