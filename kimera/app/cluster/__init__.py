"""Kimera beyond one process: a throwaway PostgreSQL, a queued Dagster instance on it, and the
daemon and webserver that serve it (``kimera cluster``; docs/scaling-out.md)."""
