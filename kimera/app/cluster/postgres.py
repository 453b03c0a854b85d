"""A throwaway local PostgreSQL server: ``initdb`` into a fresh folder, ``pg_ctl start`` on a
loopback port, databases made on demand, everything removed on stop.

It serves ``kimera cluster`` and the tests of the scaled-out configurations (Dagster's storage,
optuna's shared studies). Authentication is ``trust`` on 127.0.0.1 only: the server is reachable
from this machine alone and lives as long as the process that started it. PostgreSQL refuses to
run as root, so under root the server runs as the ``postgres`` user (``runuser``), in a folder
under the system temp directory that user can reach.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

INSTALL_HINT = (
    "PostgreSQL's server programs (initdb, pg_ctl) are needed: on Debian/Ubuntu "
    "`apt-get install postgresql`, on macOS `brew install postgresql`, elsewhere see "
    "https://www.postgresql.org/download/"
)
ROLE = "kimera"


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL server programs are missing, or the server did not start."""


@dataclass(frozen=True)
class PostgresServer:
    """A running throwaway server: where it listens and how to reach its databases."""

    host: str
    port: int
    role: str
    data_dir: Path

    def url(self, database: str, driver: str = "postgresql") -> str:
        """SQLAlchemy-style URL of ``database`` (``driver`` e.g. ``postgresql+psycopg`` for optuna)."""
        return f"{driver}://{self.role}@{self.host}:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create ``name`` (a plain identifier) if it does not exist; returns the name."""
        import psycopg
        from psycopg import sql

        if not name.isidentifier():
            raise ValueError(f"database name {name!r}: letters, digits and underscores only")
        with psycopg.connect(self.url("postgres"), autocommit=True) as con:
            exists = con.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if exists is None:
                con.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return name


def server_programs() -> tuple[str, str]:
    """Paths of ``initdb`` and ``pg_ctl``: on PATH, else Debian's versioned folder; else a clear error."""
    found = [shutil.which("initdb"), shutil.which("pg_ctl")]
    if None in found:
        for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
            candidates = [os.path.join(folder, "initdb"), os.path.join(folder, "pg_ctl")]
            if all(os.access(c, os.X_OK) for c in candidates):
                found = candidates
                break
    if None in found:
        raise PostgresUnavailable(INSTALL_HINT)
    return found[0], found[1]  # type: ignore[return-value]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def throwaway_postgres(port: int | None = None, parent: Path | None = None) -> Iterator[PostgresServer]:
    """Start a fresh PostgreSQL on 127.0.0.1:``port`` (a free one by default); stop and delete it after.

    ``parent`` is where its data folder goes (a temp folder by default; ignored under root, where
    the ``postgres`` user must be able to reach it). Raises :class:`PostgresUnavailable` with what to
    install when the server programs are missing, or with the server's log when it fails to start.
    """
    initdb, pg_ctl = server_programs()
    port = port or free_port()
    as_root = os.geteuid() == 0
    if as_root:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError as exc:
            raise PostgresUnavailable(
                "running as root, PostgreSQL needs the 'postgres' user to run as: " + INSTALL_HINT
            ) from exc
        runuser = shutil.which("runuser") or shutil.which("runuser", path="/usr/sbin:/sbin")
        if runuser is None:
            raise PostgresUnavailable(
                "running as root, PostgreSQL must run as 'postgres': `runuser` is missing"
            )
        data_dir = Path(tempfile.mkdtemp(prefix="kimera-pg-"))
        os.chown(data_dir, owner.pw_uid, owner.pw_gid)
        prefix = [runuser, "-u", "postgres", "--"]
    else:
        if parent is not None:
            parent.mkdir(parents=True, exist_ok=True)
        data_dir = Path(tempfile.mkdtemp(prefix="kimera-pg-", dir=parent))
        prefix = []
    log = data_dir / "server.log"
    server = PostgresServer(host="127.0.0.1", port=port, role=ROLE, data_dir=data_dir)
    started = False
    data = str(data_dir / "data")
    try:
        _run("initdb", [*prefix, initdb, "-D", data, "-U", ROLE, "--auth=trust", "-E", "UTF8", "--no-sync"])
        # -F: no fsync (a throwaway server); -k: its socket beside the data, not in /var/run.
        options = f"-h 127.0.0.1 -p {port} -k {data_dir} -F -c max_connections=200"
        start = [*prefix, pg_ctl, "-D", data, "-o", options, "-l", str(log), "-w", "-t", "60", "start"]
        _run("pg_ctl start", start, log=log)
        started = True
        yield server
    finally:
        if started:
            subprocess.run(
                [*prefix, pg_ctl, "-D", str(data_dir / "data"), "-m", "fast", "-w", "stop"],
                capture_output=True,
                check=False,
            )
        shutil.rmtree(data_dir, ignore_errors=True)


def _run(what: str, command: list[str], log: Path | None = None) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip()
        if log is not None and log.exists():
            detail += "\n" + log.read_text()[-2000:]
        raise PostgresUnavailable(f"{what} failed: {detail}")
