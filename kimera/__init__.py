"""Kimera's foundation: settings, the config file, the table contracts (``raw.*`` and ``ml.*``) and
request signing.

Every package of the project may import ``kimera.settings``, ``kimera.config``, ``kimera.schema``
and ``kimera.signing``; the foundation imports nothing of the project. The application on top
(command line, demo, report) is ``kimera.app``.
"""

__version__ = "0.1.0"
