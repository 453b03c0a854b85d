"""Ingest: one Dagster asset per raw table, filled from the sources the config chooses."""
