"""``kimera sql`` on the lake (``KIMERA_LAKE_URL``): a sandboxed in-memory DuckDB whose ``raw.*`` and
``marts.*`` are views over the lake's Parquet files. It holds no lock, so any number of these read
while ``kimera ingest`` or ``kimera features`` writes; each query sees every partition file whole."""

from __future__ import annotations

from kimera.app.sql_sandbox import SANDBOX_CONFIG
from kimera.settings import Settings


def connect_lake_sandboxed(settings: Settings):
    """A connection that reads the lake and nothing else: file access is limited to the lake's root,
    then locked (the sandbox of :mod:`kimera.app.sql_sandbox`)."""
    import duckdb

    from pipelines.lake.resource import lake_of
    from pipelines.lake.store import attach_mart_views, attach_raw_views

    lake = lake_of(settings)
    con = duckdb.connect()
    try:
        attach_raw_views(lake, con)
        attach_mart_views(lake, con)
        # DuckDB names globbed files with the protocol's "://" and with ":///"; allow both spellings
        bare = lake.root.split("://", 1)[1]
        roots = [f"{lake.protocol}://{bare}/", f"{lake.protocol}:///{bare}/"]
        con.execute(f"SET allowed_directories = {roots!r}")
        for key, value in SANDBOX_CONFIG.items():
            con.execute(f"SET {key} = {str(value).lower()}")
    except BaseException:
        con.close()
        raise
    return con
