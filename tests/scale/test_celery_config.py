"""The Celery executor's configuration: chosen only when a broker is set, the broker's URL kept out
of Dagster's stored config and of reprs, and the throwaway Redis leaving nothing behind."""

from __future__ import annotations

import pytest
import redis

from kimera.app.cluster.processes import running_cluster
from kimera.app.cluster.redis import throwaway_redis
from kimera.settings import Settings
from pipelines.distributed import celery_app_config, executor_for


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


def test_the_throwaway_redis_answers_and_leaves_nothing_behind() -> None:
    with throwaway_redis() as server:
        client = redis.Redis.from_url(server.url(0))
        assert client.set("k", "v") and client.get("k") == b"v"
        client.close()
        data_dir = server.data_dir
    assert not data_dir.exists()
    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(server.url(0), socket_timeout=2).ping()
