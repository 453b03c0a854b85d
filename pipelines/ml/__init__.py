"""Dagster assets that train, tune and evaluate the forecasting models (see docs/models.md)."""
