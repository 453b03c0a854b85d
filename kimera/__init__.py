"""Kimera core: settings, the config file, the raw-table contract and the command line.

Every package of the project may import ``kimera.settings``, ``kimera.config`` and
``kimera.schema``; only ``kimera.cli`` imports the other packages (lazily).
"""

__version__ = "0.1.0"
