"""Which executor runs a job's steps: in the run's own process (one machine), or as Celery tasks
that workers on any machine take off a broker (``KIMERA_CELERY_BROKER_URL``, docs/scaling-out.md).

The run process and every worker must build the same Celery app, so both take it from
:func:`celery_app_config`. A worker that dies mid-step (killed, its machine lost) has not
acknowledged the step's message (``task_acks_late``), so the broker hands it to another worker after
the visibility timeout; a worker whose pool process dies gives it back at once
(``task_reject_on_worker_lost``). The run waits for the step's result meanwhile. Every Kimera step
replaces its window in one transaction, so a step that runs again leaves the same tables.
"""

from __future__ import annotations

from typing import Any

from dagster import ExecutorDefinition, in_process_executor

from kimera.settings import Settings

QUEUE = "dagster"  # dagster-celery's queue: workers listen on it (`-Q dagster`)


def celery_app_config(settings: Settings) -> dict[str, Any]:
    """The Celery executor's config (broker, backend, app settings) for ``settings``.

    Raises ``ValueError`` naming ``KIMERA_CELERY_BROKER_URL`` when no broker is set.
    """
    if not settings.celery_broker_url:
        raise ValueError(
            "no Celery broker: set KIMERA_CELERY_BROKER_URL (e.g. redis://127.0.0.1:6379/0), "
            "or run `kimera cluster --executor celery`, which starts one"
        )
    timeout = settings.celery_visibility_timeout_s
    return {
        # the broker's URL goes into Dagster's config as a reference to the variable, not its value,
        # so a password in it never reaches the run's stored config or the UI
        "broker": {"env": "KIMERA_CELERY_BROKER_URL"},
        "backend": {
            "env": "KIMERA_CELERY_BACKEND_URL" if settings.celery_backend_url else "KIMERA_CELERY_BROKER_URL"
        },
        "config_source": {
            "task_acks_late": True,  # acknowledge a step when it is done, not when it starts
            "task_reject_on_worker_lost": True,  # a dead pool process gives its step back at once
            "worker_prefetch_multiplier": 1,  # a worker holds only the step it is running
            "broker_transport_options": {
                "visibility_timeout": timeout,
                # how often a worker looks for steps whose worker vanished (kombu's default sweep,
                # 10 s x 10, would add ~100 s to a short timeout)
                "unacked_restore_interval": max(1, min(10, timeout // 3)),
                "unacked_restore_throttle": 1,
            },
            "result_backend_transport_options": {"visibility_timeout": timeout},
        },
    }


def executor_for(settings: Settings) -> ExecutorDefinition:
    """Celery when ``settings`` name a broker, else the in-process executor (one machine)."""
    if not settings.celery_broker_url:
        return in_process_executor
    from dagster_celery import celery_executor

    return celery_executor.configured(celery_app_config(settings), name="celery")
