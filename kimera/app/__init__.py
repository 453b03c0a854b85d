"""Kimera's application: the command line, the demo, the SQL shell, the UI launcher, the servers
the demo starts and the report. The one place that imports every domain; nothing imports it."""
