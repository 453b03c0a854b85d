"""The Celery app a Kimera worker runs: ``celery -A pipelines.celery_worker worker -Q dagster``.

Same broker and settings as the run processes that send the steps (:mod:`pipelines.distributed`);
a step arrives as dagster-celery's ``execute_plan`` task, which loads the job from
``pipelines.definitions`` and runs that one step against the run's Dagster instance.
"""

from __future__ import annotations

from dagster_celery.executor import CeleryExecutor
from dagster_celery.make_app import make_app
from dagster_celery.tasks import create_task

from kimera.settings import get_settings
from pipelines.distributed import celery_app_config


def _worker_app():
    settings = get_settings()
    config = celery_app_config(settings)  # no broker set: fails here, naming the variable
    executor = CeleryExecutor.for_cli(
        broker=settings.celery_broker_url.get_secret_value(),
        backend=(settings.celery_backend_url or settings.celery_broker_url).get_secret_value(),
        config_source=config["config_source"],
    )
    app = make_app(executor.app_args())
    create_task(app)
    return app


app = _worker_app()
