"""The warehouse's raw tables and marts as Parquet files on object storage (S3, R2, GCS, or any
fsspec filesystem), read by DuckDB and dbt through fsspec: docs/scaling-out.md."""
