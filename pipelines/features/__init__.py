"""The features domain: the dbt project as Dagster assets, and the blocking data-quality checks on raw."""
