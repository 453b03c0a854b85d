"""The promotion gate keeps the better model, whichever of the two came first, on bars neither saw."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd

from models.promoted import read_promoted
from tests.pipelines.serving.conftest import T1, T2, promotions, run_gate


def test_a_better_candidate_replaces_a_worse_served_model(gate_home) -> None:
    worse = gate_home.save(T1, skill=False)
    first = run_gate()
    assert first.decision.promoted and first.decision.reason == "no model was promoted yet"
    better = gate_home.save(T2, skill=True)
    outcome = run_gate()
    decision = outcome.decision
    assert decision.promoted and decision.candidate_tag == better.tag and decision.incumbent_tag == worse.tag
    assert read_promoted(gate_home.settings).tag == better.tag == outcome.served
    assert decision.candidate["log_loss"] < decision.incumbent["log_loss"]
    assert decision.improvement > 0 and decision.candidate["accuracy"] > decision.incumbent["accuracy"]
    # scored only on bars after both training windows (+ the horizon): out of sample for both
    ends = [pd.Timestamp(m.metadata["data_window"]["end"]) for m in (worse, better)]
    assert pd.Timestamp(decision.window_start) >= max(ends) + timedelta(hours=1)
    rows = promotions()
    assert list(rows["decision"]) == ["promoted", "promoted"]
    assert (
        rows.iloc[1]["candidate_log_loss"] == decision.candidate["log_loss"]
        and rows.iloc[1]["bars"] == decision.bars
    )


def test_a_worse_candidate_never_replaces_a_better_served_model(gate_home) -> None:
    better = gate_home.save(T1, skill=True)
    run_gate()
    worse = gate_home.save(T2, skill=False)
    decision = run_gate().decision
    assert not decision.promoted and decision.candidate_tag == worse.tag
    assert "does not beat" in decision.reason and decision.improvement < 0
    assert read_promoted(gate_home.settings).tag == better.tag
    assert list(promotions()["decision"]) == ["promoted", "kept"]
    assert run_gate().decision is None  # decided once, never judged again


def test_an_equally_good_candidate_does_not_churn_the_served_model(gate_home) -> None:
    served = gate_home.save(T1)
    run_gate()
    # the very same model, claiming newer data: no gain on any bar, so the served one stays
    twin = gate_home.save(
        T1, window_end=pd.Timestamp(served.metadata["data_window"]["end"]).to_pydatetime() + timedelta(days=1)
    )
    decision = run_gate().decision
    assert decision.candidate_tag == twin.tag and not decision.promoted and decision.improvement == 0.0
    assert read_promoted(gate_home.settings).tag == served.tag


def test_a_candidate_waits_until_enough_bars_are_out_of_sample(gate_home) -> None:
    served = gate_home.save(T1, skill=False)
    run_gate()
    candidate = gate_home.save(T2)
    gate_home.configure(promotion={"min_bars": 5000})
    waiting = run_gate()
    assert waiting.decision is None and waiting.served == served.tag
    assert (
        len(waiting.waiting) == 1
        and candidate.tag in waiting.waiting[0]
        and "needs 5000" in waiting.waiting[0]
    )
    gate_home.configure(promotion={"min_bars": 24})
    assert run_gate().decision.candidate_tag == candidate.tag


def test_a_retrain_on_the_same_data_is_not_a_candidate(gate_home) -> None:
    served = gate_home.save(T1)
    run_gate()
    gate_home.save(T1)  # e.g. the same partition materialised again
    outcome = run_gate()
    assert outcome.decision is None and outcome.waiting == [] and outcome.served == served.tag


def test_a_served_model_of_another_horizon_is_replaced_and_the_reason_recorded(gate_home) -> None:
    from models.promoted import write_promoted

    four_bars = gate_home.save(T1, horizon=4)  # served while the config asked for 4 bars ahead
    write_promoted(four_bars.tag, "before-the-config-changed", gate_home.settings)
    candidate = gate_home.save(T2, skill=False)
    decision = run_gate().decision
    assert (
        decision.promoted
        and decision.candidate_tag == candidate.tag
        and decision.incumbent_tag == four_bars.tag
    )
    assert decision.reason == "the served model is not comparable: it forecasts 4 bars ahead, the config 1"


def test_with_the_shipped_rule_a_better_candidate_still_passes_the_paired_test(gate_home) -> None:
    from kimera.config import PromotionConfig

    gate_home.configure(promotion={"min_bars": 24})  # min_improvement and z as shipped
    assert PromotionConfig().z > 2
    gate_home.save(T1, skill=False)
    run_gate()
    better = gate_home.save(T2, skill=True)
    decision = run_gate().decision
    assert decision.promoted and decision.candidate_tag == better.tag, decision.reason
    assert decision.improvement > 2 * decision.improvement_se
    assert "Newey-West" in decision.reason and list(promotions()["z"]) == [PromotionConfig().z] * 2
