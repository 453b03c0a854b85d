"""BentoML packaging and serving of the forecasting models (see docs/serving.md).

``bentos.service`` is the service (import it only to serve: it resolves the served model at
import); ``bentos.build`` builds a bento of the promoted model; ``bentos.serve`` runs a server.
"""
