"""Features follow new raw data: declarative automation on every dbt model.

A model's latest hourly partition is requested when any of its inputs was updated (the ingest
schedule writing the newest hour, or an upstream model in the same tick), once nothing upstream is
missing or still running, and only when every blocking check on the **raw** tables it reads passed:
a raw partition that failed its data-quality check never reaches the features. Between models the
gate is dbt's own: ``dbt build`` skips the models downstream of a failing dbt test. Turn on the
sensor ``default_automation_condition_sensor`` (UI, or ``dagster-daemon``) to let it run.
"""

from __future__ import annotations

from dagster import AssetSelection, AutomationCondition

RAW = AssetSelection.key_prefixes("raw")


def follow_raw_data() -> AutomationCondition:
    return AutomationCondition.eager() & AutomationCondition.all_deps_blocking_checks_passed().allow(RAW)
