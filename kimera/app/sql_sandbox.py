"""The sandbox ``kimera sql`` runs in: the warehouse alone, read-only, no files, no network, no settings.

A read-only DuckDB connection is not a sandbox: table functions (``read_text``, ``read_csv``,
``glob``), ``COPY``, ``ATTACH``, ``CALL enable_logging(...)`` and extension autoinstall all reach
the file system or the network. So the connection is opened with external access off, extension
install/autoload off and its configuration locked (no statement can turn them back on); on top of
that, a query is one statement of a kind that only reads, checked before anything runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# DuckDB's own guard: only the database file itself may be read; no setting can be changed afterwards.
SANDBOX_CONFIG: dict[str, Any] = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "lock_configuration": True,
}

# Statement kinds that only read. SHOW, DESCRIBE and SUMMARIZE parse as SELECT; PRAGMA and CALL
# reach only table functions, and the locked configuration refuses any that would change a setting.
READ_ONLY_STATEMENTS = {"SELECT", "EXPLAIN", "PRAGMA", "CALL"}

USE = "use SELECT (or SHOW, DESCRIBE, SUMMARIZE, EXPLAIN) on the warehouse's tables"

# Why each refused kind of statement is refused, in the user's terms.
_REFUSED_WHY = {
    "ATTACH": "it would open another database file",
    "DETACH": "it would close the warehouse",
    "COPY": "it would read or write files",
    "EXPORT": "it would write the database out to files",
    "LOAD": "INSTALL and LOAD fetch and run extensions",
    "SET": "SET, RESET and USE change the session's settings, which are locked",
    "VARIABLE_SET": "SET VARIABLE changes the session's state",
    "TRANSACTION": "kimera sql runs each query on its own",
    "CREATE": "it would write to the warehouse",
    "INSERT": "it would write to the warehouse",
    "UPDATE": "it would write to the warehouse",
    "DELETE": "it would write to the warehouse",
    "DROP": "it would write to the warehouse",
    "ALTER": "it would write to the warehouse",
}


class RefusedQuery(ValueError):
    """A query ``kimera sql`` will not run; the message says why and what is accepted."""


def connect_sandboxed(path: Path):
    """A read-only connection to the warehouse at ``path`` that reaches nothing else (see the module doc)."""
    import duckdb

    return duckdb.connect(str(path), read_only=True, config=dict(SANDBOX_CONFIG))


def checked_statement(con, query: str):
    """The one read-only statement of ``query``; RefusedQuery if it is empty, several, or would not only read."""
    statements = con.extract_statements(query)
    if not statements:
        raise RefusedQuery(f'empty query: {USE}, e.g. kimera sql "show all tables"')
    if len(statements) > 1:
        kinds = ", ".join(s.type.name for s in statements)
        raise RefusedQuery(
            f"kimera sql is read-only and runs one statement per call; got {len(statements)} ({kinds}): "
            "run them one at a time"
        )
    (statement,) = statements
    kind = statement.type.name
    if kind not in READ_ONLY_STATEMENTS:
        why = _REFUSED_WHY.get(kind, "it does not only read")
        raise RefusedQuery(f"kimera sql is read-only: {kind} statements are refused ({why}); {USE}")
    return statement


def explain_refusal(message: str) -> str | None:
    """The reason to show for a DuckDB error raised by the sandbox itself, or None for an ordinary error."""
    lower = message.lower()
    if "file system operations are disabled" in lower or "external extensions is disabled" in lower:
        return (
            "kimera sql is read-only and reaches nothing outside the warehouse: files, URLs and "
            f"extensions are refused ({message}); {USE}"
        )
    if "configuration has been locked" in lower:
        return f"kimera sql is read-only and its settings are locked ({message}); {USE}"
    if "read-only" in lower:
        return f"kimera sql is read-only ({message}); {USE}"
    return None
