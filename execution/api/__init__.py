"""The service's HTTP API: pydantic models (``models``), routes (``routes``) and error answers (``errors``)."""
