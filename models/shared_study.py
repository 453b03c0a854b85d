"""One optuna study shared by several trainer processes (or machines) on an RDB such as PostgreSQL.

A planner draws the study's trials up front from the seed (the config's hyperparameters first,
then ``trials - 1`` points of a seeded random sampler) and enqueues them; any number of workers
then claim waiting trials one at a time and evaluate them. A claim is a row-locked state change
from WAITING to RUNNING in the storage, so no trial is evaluated twice, and a worker stops when
none is left instead of inventing new trials. Because the trials are fixed by the seed and each
evaluation is deterministic, the best trial is the one a single process finds on the same seed
budget, however the trials fall across workers. (An adaptive sampler such as TPE would propose
trials from whichever results had arrived, which depends on timing; pruning likewise depends on
the order trials finish, so a shared study runs with ``hpo.pruner: none`` to be reproducible.)
"""

from __future__ import annotations

from dataclasses import dataclass

from kimera.config import ModelsConfig
from models.hpo import (
    SearchResult,
    defaults_inside_space,
    make_objective,
    make_pruner,
    search_space,
    summarise,
)
from models.windows import Windows


@dataclass(frozen=True)
class WorkDone:
    """What one worker evaluated: the numbers of the trials it claimed, in order."""

    worker: str
    trials: list[int]


def plan_study(kind: str, cfg: ModelsConfig, storage: str, study_name: str, trials: int | None = None) -> int:
    """Create ``study_name`` in ``storage`` and enqueue its ``trials`` trials, drawn from the seed.

    Run once, by one process, before the workers start. A study that already has trials is left
    as it is (so re-planning is harmless). Returns how many trials the study holds.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name=study_name, storage=storage, direction="minimize", load_if_exists=True
    )
    if study.trials:
        return len(study.trials)
    budget = trials or cfg.hpo.trials
    draws = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=cfg.seeds[0]))
    planned: list[tuple[dict, dict]] = []
    defaults = defaults_inside_space(kind, cfg)
    if defaults is not None:
        planned.append((defaults, {"default": True}))
    while len(planned) < budget:
        probe = draws.ask()
        search_space(kind, probe, cfg)
        planned.append((dict(probe.params), {}))
        draws.tell(probe, 0.0)
    for params, attrs in planned:
        study.enqueue_trial(params, user_attrs=attrs)
    return len(planned)


def work_on_study(
    kind: str,
    windows: Windows,
    cfg: ModelsConfig,
    storage: str,
    study_name: str,
    worker: str = "worker",
    device: str = "cpu",
) -> WorkDone:
    """Claim and evaluate waiting trials of ``study_name`` until none is left; never adds a trial."""
    import optuna
    from optuna.trial import TrialState

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=study_name, storage=storage, pruner=make_pruner(cfg.hpo.pruner))
    objective = make_objective(kind, windows, cfg, device)
    done: list[int] = []
    while (trial := _claim(study)) is not None:
        trial.set_user_attr("worker", worker)
        try:
            value = objective(trial)
        except optuna.TrialPruned:
            study.tell(trial, state=TrialState.PRUNED)
        except Exception:
            study.tell(trial, state=TrialState.FAIL)
            raise
        else:
            study.tell(trial, value)
        done.append(trial.number)
    return WorkDone(worker=worker, trials=done)


def study_result(kind: str, cfg: ModelsConfig, storage: str, study_name: str) -> SearchResult:
    """The shared study's outcome, as :func:`models.hpo.search` reports a serial one."""
    import optuna

    return summarise(optuna.load_study(study_name=study_name, storage=storage), kind, cfg)


def _claim(study):
    """The next waiting trial, now RUNNING and ours, or None when every trial is taken."""
    import optuna
    from optuna.trial import TrialState

    # The study's own (caching) storage: a trial made from another storage object is unknown to it.
    storage = study._storage
    study_id = storage.get_study_id_from_name(study.study_name)
    for frozen in storage.get_all_trials(study_id, deepcopy=False, states=(TrialState.WAITING,)):
        # optuna's Study.ask claims the same way (_pop_waiting_trial_id) but then falls back to
        # sampling a new trial; the study's storage has no public accessor (fenced: models/fences.py).
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, frozen.number)
        try:
            # False when another worker moved it to RUNNING first (the row is locked meanwhile).
            if storage.set_trial_state_values(trial_id, state=TrialState.RUNNING):
                return optuna.Trial(study, trial_id)
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
    return None
