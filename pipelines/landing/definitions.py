"""The landing domain: `kimera stream` lands Parquet micro-batches; this sensor and job load them."""

from __future__ import annotations

from dagster import Definitions

from pipelines.landing.jobs import load_landed_job
from pipelines.landing.sensors import landing_sensor

defs = Definitions(jobs=[load_landed_job], sensors=[landing_sensor])
