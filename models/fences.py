"""Where the shared optuna study reaches into optuna's private API (``kimera.fences``)."""

from __future__ import annotations

from kimera.fences import Bypass

OPTUNA = {"optuna": "5.0.0"}

BYPASSES: tuple[Bypass, ...] = (
    Bypass(
        name="claim a waiting trial of a shared study",
        used_in=("models/shared_study.py",),
        why=(
            "workers claim trials planned from the seed (study._storage, as Study.ask's "
            "_pop_waiting_trial_id does) instead of letting ask() sample new ones"
        ),
        measured_against=OPTUNA,
        symbols=("optuna.study.study:Study._pop_waiting_trial_id",),
    ),
)
