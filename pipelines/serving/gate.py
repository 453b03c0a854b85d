"""The promotion gate run against the warehouse and the model store (the rule is ``models.promotion``).

Candidates are versions of ``serving.model`` (``kimera-ensemble``) for the configured horizon whose
training data ends after both the served model's and every candidate decided on before (older
ones are superseded). The newest candidate with enough bars out of sample for both models is
judged; the others wait. With nothing served yet, the newest candidate is promoted. Every
decision is appended to ``ml.promotions``; a promotion also moves the pointer
``KIMERA_HOME/serving/promoted.json``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from kimera.config import TIMEFRAME_SECONDS, KimeraConfig
from kimera.settings import Settings
from models.promoted import Promoted, read_promoted
from models.promotion import Decision, NotEnoughBars, compare, first_model, not_comparable, oos_start
from models.registry import RegistryError, StoredModel, get_model, list_models


@dataclass(frozen=True)
class Candidate:
    stored: StoredModel
    data_end: datetime
    oos_from: datetime | None  # first bar out of sample for it and the served model
    oos_bars: dict[str, int]  # labelled bars per common asset from oos_from (what marts hold now)
    ready: bool
    problem: str | None = None  # why it cannot be compared with the served model (then it replaces it)


@dataclass
class Plan:
    """What the gate would judge now: the served model and the candidates, newest first."""

    incumbent: Promoted | None
    incumbent_model: StoredModel | None
    candidates: list[Candidate] = field(default_factory=list)

    @property
    def ready(self) -> Candidate | None:
        """The newest candidate that can be judged now."""
        return next((c for c in self.candidates if c.ready), None)

    def waiting(self, min_bars: int) -> list[str]:
        """Candidates newer than the one judged now that still wait for bars out of sample."""
        ready = self.ready
        return [
            f"{c.stored.tag}: {c.oos_bars or 'no'} labelled bars per asset since {c.oos_from}, needs {min_bars}"
            for c in self.candidates
            if not c.ready and (ready is None or c.data_end > ready.data_end)
        ]


@dataclass(frozen=True)
class GateOutcome:
    decision: Decision | None
    promotion_id: str | None
    served: str | None
    waiting: list[str]


def data_end(stored: StoredModel) -> datetime:
    """The end (exclusive) of the data the model was trained on, from its metadata."""
    return datetime.fromisoformat(str(stored.metadata["data_window"]["end"]))


def bar(config: KimeraConfig) -> timedelta:
    return timedelta(seconds=TIMEFRAME_SECONDS[config.features.bar])


def plan(con, settings: Settings, config: KimeraConfig) -> Plan:
    """The served model and the candidates, with their out-of-sample bars (reads only)."""
    from models.promotion_store import last_decided_data_end

    horizon = config.models.horizon
    incumbent = read_promoted(settings)
    incumbent_model, problem = None, None
    if incumbent is not None:
        try:
            incumbent_model = get_model(incumbent.tag, settings)
        except RegistryError:
            problem = f"the served model {incumbent.tag} is no longer in the model store"
    if incumbent_model is not None and str(incumbent_model.metadata.get("horizon")) != str(horizon):
        problem = f"it forecasts {incumbent_model.metadata.get('horizon')} bars ahead, the config {horizon}"
    floor = max(
        (
            d
            for d in (last_decided_data_end(con, horizon), incumbent_model and data_end(incumbent_model))
            if d
        ),
        default=None,
    )
    stored = [
        m for m in list_models(config.serving.model, settings)
        if m.labels.get("horizon") == str(horizon) and (incumbent is None or m.tag != incumbent.tag)
    ]  # fmt: skip
    stored = [m for m in stored if floor is None or data_end(m) > floor]
    stored.sort(key=lambda m: (data_end(m), m.created_at), reverse=True)
    out = Plan(incumbent, incumbent_model)
    for m in stored:
        if incumbent_model is None or problem is not None:
            out.candidates.append(Candidate(m, data_end(m), None, {}, True, problem))
            continue
        assets = sorted(set(m.metadata.get("assets", [])) & set(incumbent_model.metadata.get("assets", [])))
        if not assets:
            why = f"it knows assets {incumbent_model.metadata.get('assets')}, the candidate {m.metadata.get('assets')}"
            out.candidates.append(Candidate(m, data_end(m), None, {}, True, why))
            continue
        start = oos_start([data_end(m), data_end(incumbent_model)], horizon, bar(config))
        counts = _labelled_bars(con, horizon, start, assets)
        ready = len(counts) == len(assets) and min(counts.values()) >= config.serving.promotion.min_bars
        out.candidates.append(Candidate(m, data_end(m), start, counts, ready))
    return out


def _labelled_bars(con, horizon: int, start: datetime, assets: list[str]) -> dict[str, int]:
    rows = con.execute(
        f"SELECT asset, count(*) FROM marts.labels WHERE bar_time >= ? AND fwd_ret_{horizon} IS NOT NULL "
        "AND asset IN (SELECT unnest(?)) GROUP BY asset",
        [start, assets],
    ).fetchall()
    return {str(a): int(n) for a, n in rows}


def judge(con, settings: Settings, config: KimeraConfig, the_plan: Plan) -> Decision | None:
    """The decision on the plan's ready candidate (None when none is ready)."""
    candidate = the_plan.ready
    if candidate is None:
        return None
    tag = candidate.stored.tag
    if the_plan.incumbent is None:
        return first_model(tag)
    if candidate.problem is not None:
        return not_comparable(tag, the_plan.incumbent.tag, candidate.problem)
    from models.marts import MartsError
    from models.registry import load_model

    models = {t: load_model(t, settings) for t in (tag, the_plan.incumbent.tag)}
    try:
        windows = {t: _oos_windows(con, m, candidate.oos_from, config.sessions) for t, m in models.items()}
    except MartsError as exc:
        return not_comparable(tag, the_plan.incumbent.tag, f"its inputs cannot be read any more: {exc}")
    bar_hours = TIMEFRAME_SECONDS[config.features.bar] / 3600.0
    try:
        return compare(
            (tag, models[tag], windows[tag]),
            (the_plan.incumbent.tag, models[the_plan.incumbent.tag], windows[the_plan.incumbent.tag]),
            config.serving.promotion,
            fee_bps=config.models.fee_bps,
            bar_hours=bar_hours,
        )
    except NotEnoughBars:
        return None  # fewer complete windows than labelled bars (warm-up, gaps): wait for more


def _oos_windows(con, model, start: datetime, sessions: dict):
    """The model's labelled windows ending at or after ``start``, from the marts as they are now."""
    import numpy as np

    from models.marts import read_marts
    from models.windows import make_windows

    windows = make_windows(
        read_marts(con, model.horizon, list(model.feature_names), sessions=sessions), model.seq_len
    )
    keep = windows.labelled & (windows.bar_time >= np.datetime64(start, "us"))
    return windows.take(np.flatnonzero(keep))


def run_gate(con, settings: Settings, config: KimeraConfig) -> GateOutcome:
    """Judge the ready candidate, record the decision, move the pointer on a promotion."""
    from ulid import ULID

    from models.promoted import write_promoted
    from models.promotion_store import write_decision
    from models.registry import code_version

    the_plan = plan(con, settings, config)
    decision = judge(con, settings, config, the_plan)
    waiting = the_plan.waiting(config.serving.promotion.min_bars)
    if decision is None:
        served = the_plan.incumbent.tag if the_plan.incumbent else None
        return GateOutcome(None, None, served, waiting)
    promotion_id = str(ULID())
    candidate = the_plan.ready
    assert candidate is not None  # judge decided on it
    write_decision(
        con, promotion_id, decision, candidate_data_end=candidate.data_end, horizon=config.models.horizon,
        rule=config.serving.promotion, code_version=code_version(),
    )  # fmt: skip
    if decision.promoted:
        write_promoted(decision.candidate_tag, promotion_id, settings)
    served = read_promoted(settings)
    return GateOutcome(decision, promotion_id, served.tag if served else None, waiting)
