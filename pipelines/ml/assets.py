"""ML assets: dataset -> searches -> models (walk-forward + the model for use) -> ensemble -> evaluations.

Every asset is partitioned by training end (daily): partition D uses only data known before D + 1
day, so a retrain names the data window it learns from. Models go to the BentoML store
(``models.registry``); scores go to ``ml.evaluations`` and show as materialisation metadata.
"""

from pipelines.ml.common import PARTITIONS, SEARCHED
from pipelines.ml.dataset import dataset
from pipelines.ml.evaluation import evaluations
from pipelines.ml.members import baselines, ensemble, member_asset
from pipelines.ml.search import search_asset

ML_ASSETS = [
    dataset,
    *(search_asset(k) for k in SEARCHED),
    *(member_asset(k) for k in ("lstm", "transformer", "linear", "lightgbm")),
    baselines,
    ensemble,
    evaluations,
]

__all__ = ["ML_ASSETS", "PARTITIONS"]
