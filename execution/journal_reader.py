"""Read-only access to the execution journal, on SQLite or PostgreSQL (``execution.journal_url``).

For readers outside the service (the report, the demo's summary): a SQLite journal is opened
``mode=ro`` so the running service keeps writing it (WAL); a PostgreSQL one through psycopg. The
SQL is the journal's own (``?`` placeholders, rewritten for PostgreSQL).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


class JournalReader:
    """Queries on the journal at ``url``; :attr:`exists` is False when a SQLite journal has no file yet."""

    def __init__(self, url: str | Path) -> None:
        self.url = str(url) if "://" in str(url) else f"sqlite:///{url}"
        self.dialect = "postgresql" if self.url.startswith(("postgresql://", "postgres://")) else "sqlite"
        self.con: Any = None
        if self.dialect == "sqlite":
            path = Path(self.url.removeprefix("sqlite:///"))
            if path.exists():
                self.con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        else:
            import psycopg  # only PostgreSQL journals need it

            self.con = psycopg.connect(self.url, autocommit=True)

    @property
    def exists(self) -> bool:
        return self.con is not None

    @property
    def where(self) -> str:
        """Where the journal is, for messages: the file, or the database without user or password."""
        if self.dialect == "sqlite":
            return self.url.removeprefix("sqlite:///")
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}{parts.path}"

    def rows(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> list[tuple]:
        cur = self.con.cursor()
        cur.execute(sql if self.dialect == "sqlite" else sql.replace("?", "%s"), tuple(params))
        return cur.fetchall()

    def has_table(self, table: str) -> bool:
        """Whether the journal has ``table`` (an older journal may lack newer tables)."""
        if self.dialect == "sqlite":
            sql = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?"
        else:
            sql = "SELECT count(*) FROM information_schema.tables WHERE table_name = ?"
        return bool(self.rows(sql, (table,))[0][0])

    def close(self) -> None:
        if self.con is not None:
            self.con.close()
            self.con = None
