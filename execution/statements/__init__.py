"""Daily account statements: positions, P&L, fees and gas, every fill and best-execution figures.

``ledger.py`` reads one account's day from the journal (read-only) and replays its fills through
``execution.portfolio`` (the one P&L); ``html.py`` and ``pdf.py`` render it; ``files.py`` writes
both under ``KIMERA_HOME/statements/<account>/<day>.{html,pdf}`` (``kimera statement``). The
Dagster asset ``statements/daily`` (``pipelines/statements``) runs that command per day.
"""
