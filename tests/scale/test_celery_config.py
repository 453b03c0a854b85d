"""The Celery executor's configuration: chosen only when a broker is set, the broker's URL kept out
of Dagster's stored config and of reprs, and the throwaway Redis leaving nothing behind."""

from __future__ import annotations

import importlib

import pytest
import redis

from kimera.app.cluster.processes import running_cluster
from kimera.app.cluster.redis import throwaway_redis
from kimera.settings import Settings, get_settings
from pipelines.distributed import celery_app_config, executor_for
from tests.support.servers import redis_server  # noqa: F401  (fixture)


def test_without_a_broker_steps_run_in_process_and_the_celery_config_names_the_variable() -> None:
    settings = Settings()
    assert executor_for(settings).name == "in_process"
    with pytest.raises(ValueError, match="KIMERA_CELERY_BROKER_URL"):
        celery_app_config(settings)


def test_a_broker_url_with_a_password_stays_out_of_the_config_and_the_repr() -> None:
    settings = Settings(
        celery_broker_url="redis://:hunter2@redis.internal:6379/0", celery_visibility_timeout_s=30
    )
    config = celery_app_config(settings)
    assert executor_for(settings).name == "celery"
    assert "hunter2" not in repr(config) and "hunter2" not in repr(settings)
    assert config["broker"] == {"env": "KIMERA_CELERY_BROKER_URL"}
    assert config["config_source"]["task_acks_late"] is True
    assert config["config_source"]["broker_transport_options"]["visibility_timeout"] == 30


def test_a_visibility_timeout_below_ten_seconds_is_refused() -> None:
    with pytest.raises(ValueError, match="celery_visibility_timeout_s"):
        Settings(celery_visibility_timeout_s=2)


def test_an_unknown_executor_is_refused_naming_the_choices(kimera_home: Settings) -> None:
    with pytest.raises(ValueError, match="in_process, celery"), running_cluster(kimera_home, executor="dask"):
        pass


# a second import of the worker's module registers dagster-celery's task again, which Celery notes
@pytest.mark.filterwarnings("ignore:Task name 'execute_plan' is already registered")
def test_the_worker_app_takes_the_brokers_settings_and_queues_steps_on_redis(
    redis_server,  # noqa: F811
    monkeypatch,
) -> None:
    monkeypatch.setenv("KIMERA_CELERY_BROKER_URL", redis_server.url(0))
    monkeypatch.setenv("KIMERA_CELERY_VISIBILITY_TIMEOUT_S", "120")
    get_settings.cache_clear()
    try:
        app = importlib.reload(importlib.import_module("pipelines.celery_worker")).app
    finally:
        get_settings.cache_clear()
    assert app.conf.task_acks_late and app.conf.task_reject_on_worker_lost
    assert app.conf.broker_transport_options["visibility_timeout"] == 120
    assert "execute_plan" in app.tasks  # dagster-celery's step task, what the run processes send
    app.send_task("execute_plan", queue="dagster", routing_key="dagster.execute_plan")
    client = redis.Redis.from_url(redis_server.url(0))
    queued = [k for k in client.keys("dagster*") if client.type(k) == b"list"]
    assert sum(client.llen(k) for k in queued) == 1  # one message on the queue the workers listen on
    client.close()


def test_the_throwaway_redis_answers_and_leaves_nothing_behind() -> None:
    with throwaway_redis() as server:
        client = redis.Redis.from_url(server.url(0))
        assert client.set("k", "v") and client.get("k") == b"v"
        client.close()
        data_dir = server.data_dir
    assert not data_dir.exists()
    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(server.url(0), socket_timeout=2).ping()
