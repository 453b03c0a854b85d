"""Execution reports: fills and transaction-cost analysis per venue (``kimera costs``)."""
