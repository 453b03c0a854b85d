"""Serving assets: the promotion gate's decision, and the bento of the promoted model.

``serving/promoted_model`` judges the newest candidate (``models.promotion``) and records the
decision in ``ml.promotions``; ``serving/bento`` builds the bento that serves the promoted model.
Neither is partitioned: there is one served model at a time.
"""

import dagster as dg
from dagster_duckdb import DuckDBResource

from kimera.config import load_config
from kimera.settings import get_settings

GROUP = "serving"
PROMOTED = dg.AssetKey(["serving", "promoted_model"])
BENTO = dg.AssetKey(["serving", "bento"])


def _figures_table(decision) -> str:
    rows = ["| figure | candidate | served |", "|---|---|---|"]
    for name, value in decision.candidate.items():
        rows.append(f"| {name} | {value:.5f} | {decision.incumbent.get(name, float('nan')):.5f} |")
    return "\n".join(rows)


@dg.asset(
    key=PROMOTED,
    deps=[dg.AssetKey(["ml", "ensemble"]), dg.AssetKey(["marts", "labels"])],
    group_name=GROUP,
    pool="duckdb",
    description="The promotion gate: the newest trained ensemble replaces the served model only if its "
    "log loss of P(up) is lower on bars neither model was trained on. Decisions go to ml.promotions.",
)
def promoted_model(context: dg.AssetExecutionContext, warehouse: DuckDBResource) -> dg.MaterializeResult:
    from pipelines.serving.gate import run_gate

    settings = get_settings()
    config = load_config(settings=settings)
    with warehouse.get_connection() as con:
        outcome = run_gate(con, settings, config)
    metadata: dict[str, object] = {
        "served_model": outcome.served or "none",
        "waiting": dg.MetadataValue.json(outcome.waiting),
    }
    decision = outcome.decision
    if decision is None:
        metadata["decision"] = "none"
        metadata["reason"] = (
            "no candidate is ready: " + "; ".join(outcome.waiting) if outcome.waiting else "no new candidate"
        )
        context.log.info(str(metadata["reason"]))
    else:
        context.log.info(f"{decision.decision} {decision.candidate_tag}: {decision.reason}")
        metadata.update(
            decision=decision.decision,
            reason=decision.reason,
            candidate=decision.candidate_tag,
            incumbent=decision.incumbent_tag or "none",
            promotion_id=outcome.promotion_id,
            bars=decision.bars,
            window=f"{decision.window_start} .. {decision.window_end}" if decision.window_start else "none",
        )
        if decision.improvement is not None:
            metadata["log_loss_gain"] = decision.improvement
            metadata["log_loss_gain_se"] = decision.improvement_se
            metadata["figures"] = dg.MetadataValue.md(_figures_table(decision))
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    key=BENTO,
    deps=[PROMOTED],
    group_name=GROUP,
    description="The bento (BentoML package of code and model) serving the promoted model; "
    "`bentoml serve kimera-forecaster:<version>` or `bentoml containerize` it.",
)
def bento(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    from bentos.build import build_bento
    from models.promoted import read_promoted

    settings = get_settings()
    promoted = read_promoted(settings)
    if promoted is None:
        raise dg.Failure(
            "no model is promoted yet: materialise serving/promoted_model after training a model"
        )
    built = build_bento(promoted.tag, settings)
    context.log.info(f"{'reused' if built.reused else 'built'} bento {built.tag} for {built.model_tag}")
    return dg.MaterializeResult(
        metadata={
            "bento": built.tag,
            "model_tag": built.model_tag,
            "reused": built.reused,
            "seconds": round(built.seconds, 2),
            "path": dg.MetadataValue.path(str(built.path)),
            "serve": f"bentoml serve {built.tag}",
        }
    )


SERVING_ASSETS = [promoted_model, bento]
