"""Event feeds of the loop: each yields ``live.events`` in exchange-time order on a given clock."""
