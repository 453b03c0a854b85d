"""One served KIMERA_HOME for the service tests: simulated marts, a trained ensemble (promoted) and a
linear model in the store. ``bentos.service`` reads the promoted tag when first imported, so the
home lives for the whole session and every test runs with its environment."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.bentos.world import install, trained, use_store, write_config


@pytest.fixture(scope="session")
def served_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("served") / "kimera-home"
    config = write_config(tmp_path_factory.mktemp("config") / "kimera.yaml")
    env = {
        "KIMERA_HOME": str(home),
        "KIMERA_CONFIG": str(config),
        "DAGSTER_HOME": str(home / "dagster"),
        "BENTOML_HOME": str(home / "bentoml"),
    }
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        from kimera.settings import get_settings

        get_settings.cache_clear()
        settings = get_settings()
        world = trained()
        tags = install(settings, world)
        yield SimpleNamespace(settings=settings, env=env, tags=tags, trained=world)
    get_settings.cache_clear()


@pytest.fixture
def served(served_home, monkeypatch):
    """The served home, its environment applied, BentoML's store pointed at it."""
    from kimera.settings import get_settings

    for key, value in served_home.env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    use_store(served_home.settings)
    yield served_home
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def asgi_app(served_home):
    """The service's ASGI app, made once: BentoML registers its Prometheus metrics per app."""
    from tests.bentos.world import use_store

    use_store(served_home.settings)
    from bentos.service import Forecaster

    return Forecaster.to_asgi()
