"""The one typed settings object: environment (prefix ``KIMERA_``) over defaults.

Everything that needs a path, a device or a secret asks :func:`get_settings`; nothing else in the
project reads ``os.environ``. The YAML config file (assets, venues, pools, tokens, wallet labels)
is loaded by :mod:`kimera.config`, from the path given here.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

# Environment every tool we start must see: no tool may try to reach the internet for telemetry.
TELEMETRY_OFF = {
    "BENTOML_DO_NOT_TRACK": "true",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "GX_ANALYTICS_ENABLED": "false",
    "DAGSTER_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "1",
}


# Dagster settings every process on the instance must share (demo, `dagster dev`, its runs). A
# ranged run records an event per hourly partition: these batch their writes, and record the
# plan of a single-run backfill as one event per asset (Dagster's option; a failed run then
# leaves its partitions "missing" rather than "failed").
DAGSTER_TUNING = {
    "DAGSTER_EVENT_BATCH_SIZE": "1000",
    "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "true",
}

_DAGSTER_YAML_HEADER = "# Dagster instance for Kimera (written by `kimera`"
# The Dagster instance under KIMERA_HOME/dagster; rewritten while it still starts with the header
# above (so upgrades reach it), left alone once you remove that line to make it your own.
DAGSTER_YAML = f"""\
{_DAGSTER_YAML_HEADER}; delete this line to keep your edits).
telemetry:
  enabled: false
concurrency:
  pools:
    # DuckDB has one writer: every asset that writes the warehouse holds pool "duckdb".
    granularity: op
    default_limit: 1
# The stock SQLite event log, writing batches of events in one transaction (see the module).
event_log_storage:
  module: pipelines.dagster_storage
  class: BatchingSqliteEventLogStorage
  config:
    dagster_home: {{env: DAGSTER_HOME}}
    event_batch_size: 1000          # events per write (what DAGSTER_EVENT_BATCH_SIZE sets)
    planned_events_per_asset: true  # a ranged run plans one event per asset, not per partition
"""


class Settings(BaseSettings):
    """Process-wide settings. Every field can be set as ``KIMERA_<FIELD>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="KIMERA_", extra="ignore", frozen=True)

    home: Path = Field(default=Path(".kimera"), description="Holds the warehouse and every other artefact.")
    config: Path = Field(default=Path("kimera.yaml"), description="The YAML config file.")
    device: Literal["cpu", "cuda", "auto"] = Field(default="cpu", description="torch device for training.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Secrets: read from KIMERA_SECRET_<NAME> or from a file <secrets_dir>/<name>; never logged.
    secrets_dir: Path | None = Field(default=None, description="Folder of secret files, one per secret.")
    # Sealed secrets (<name>.sealed in secrets_dir) open with this key file, in memory (kimera.sealing).
    operator_key: Path | None = Field(default=None, description="The operator key that opens sealed secrets.")
    operator_passphrase: SecretStr | None = Field(default=None, description="Passphrase of the operator key.")
    # The warehouse on object storage (docs/scaling-out.md): root URL and, for S3-compatible
    # servers other than AWS (MinIO, R2, a local test server), their endpoint.
    lake_url: str | None = Field(default=None, description="Lake root, e.g. s3://bucket/kimera.")
    lake_endpoint_url: str | None = Field(default=None, description="S3-compatible endpoint of the lake.")
    # The Celery executor (docs/scaling-out.md): unset, steps run in the run's own process.
    # URLs may carry a password (redis://:pw@host/0): SecretStr keeps them out of reprs and logs
    celery_broker_url: SecretStr | None = Field(
        default=None, description="Celery broker for Dagster's steps, e.g. redis://redis.internal:6379/0."
    )
    celery_backend_url: SecretStr | None = Field(
        default=None, description="Celery result backend (step results); default: the broker URL."
    )
    celery_visibility_timeout_s: int = Field(
        default=3600,
        ge=10,
        description="A step whose worker vanished (killed, machine lost) is handed to another worker "
        "after this many seconds; keep it above the longest step, which would otherwise run twice.",
    )

    # --- derived locations (all under home) -------------------------------------------------------
    @property
    def home_dir(self) -> Path:
        return self.home.expanduser().resolve()

    @property
    def warehouse_path(self) -> Path:
        return self.home_dir / "warehouse.duckdb"

    @property
    def dagster_home(self) -> Path:
        return self.home_dir / "dagster"

    @property
    def bentoml_home(self) -> Path:
        return self.home_dir / "bentoml"

    @property
    def landing_dir(self) -> Path:
        return self.home_dir / "landing"

    @property
    def report_dir(self) -> Path:
        return self.home_dir / "report"

    @property
    def journal_path(self) -> Path:
        return self.home_dir / "execution" / "journal.sqlite"

    @property
    def optuna_storage(self) -> str:
        return f"sqlite:///{self.home_dir / 'optuna.sqlite'}"

    def secret(self, name: str) -> SecretStr | None:
        """The secret called ``name`` (e.g. ``binance_api_key``), or None when it is not given.

        Looked up as the environment variable ``KIMERA_SECRET_<NAME>`` first, then as the file
        ``<secrets_dir>/<name>``, or ``<secrets_dir>/<name>.sealed`` opened in memory with the
        operator key (never both). The value is wrapped in ``SecretStr`` so it never prints.
        """
        env_name = f"KIMERA_SECRET_{name.upper()}"
        if env_name in os.environ:
            return SecretStr(os.environ[env_name])
        if self.secrets_dir is not None:
            path = self.secrets_dir.expanduser() / name
            sealed = path.with_name(f"{name}.sealed")
            if sealed.is_file():
                return SecretStr(self._unseal(name, sealed, plaintext=path))
            if path.is_file():
                return SecretStr(path.read_text().strip())
        return None

    def _unseal(self, name: str, sealed: Path, plaintext: Path) -> str:
        from kimera.sealing import SealError, operator_key

        if plaintext.is_file():
            raise SealError(
                f"both {plaintext} and {sealed} exist: delete the plaintext (it defeats the seal)"
            )
        if self.operator_key is None:
            raise SealError(
                f"secret {name!r} is sealed ({sealed}): set KIMERA_OPERATOR_KEY to the operator key file"
            )
        passphrase = self.operator_passphrase.get_secret_value() if self.operator_passphrase else None
        return operator_key(self.operator_key, passphrase).unseal(sealed.read_text(), name)

    def tool_environment(self) -> dict[str, str]:
        """Environment for subprocesses we start (dbt, dagster, bentoml): homes and telemetry off."""
        env = dict(os.environ)
        env.update(TELEMETRY_OFF)
        for key, value in DAGSTER_TUNING.items():
            env.setdefault(key, value)
        env["KIMERA_HOME"] = str(self.home_dir)
        env["DAGSTER_HOME"] = str(self.dagster_home)
        env["BENTOML_HOME"] = str(self.bentoml_home)
        if self.lake_endpoint_url:  # dbt's `lake` target reads it
            env["KIMERA_LAKE_ENDPOINT_URL"] = self.lake_endpoint_url
        return env


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process (read once; call ``get_settings.cache_clear()`` in tests)."""
    return Settings()


def prepare_home(settings: Settings | None = None) -> Settings:
    """Create ``KIMERA_HOME`` and its Dagster instance (telemetry off), and export the tool homes.

    Safe to call many times. Exports DAGSTER_HOME and BENTOML_HOME into this process so that
    Dagster and BentoML, imported later, use the folders under ``KIMERA_HOME``.
    """
    settings = settings or get_settings()
    home = settings.home_dir
    for folder in (home, settings.dagster_home, settings.bentoml_home, settings.landing_dir):
        folder.mkdir(parents=True, exist_ok=True)
    dagster_yaml = settings.dagster_home / "dagster.yaml"
    if not dagster_yaml.exists() or (
        dagster_yaml.read_text().startswith(_DAGSTER_YAML_HEADER) and dagster_yaml.read_text() != DAGSTER_YAML
    ):
        dagster_yaml.write_text(DAGSTER_YAML)
    os.environ.update(TELEMETRY_OFF)
    for key, value in DAGSTER_TUNING.items():
        os.environ.setdefault(key, value)
    os.environ.setdefault("KIMERA_HOME", str(home))
    os.environ["DAGSTER_HOME"] = str(settings.dagster_home)
    os.environ["BENTOML_HOME"] = str(settings.bentoml_home)
    return settings
