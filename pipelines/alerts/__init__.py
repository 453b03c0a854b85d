"""The alerts domain: sensors that alert on a failed Dagster run, model drift and a lagging live loop."""
