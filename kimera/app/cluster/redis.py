"""A throwaway local Redis server, the Celery broker of ``kimera cluster --executor celery`` and of
the tests: ``redis-server`` on a loopback port, its files in a fresh folder, nothing persisted,
everything removed on stop."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from kimera.app.cluster.postgres import free_port
from kimera.app.services import stop_group

INSTALL_HINT = (
    "Redis's server program (redis-server) is needed for the Celery executor: on Debian/Ubuntu "
    "`apt-get install redis-server`, on macOS `brew install redis`, elsewhere see https://redis.io/downloads/"
)


class RedisUnavailable(RuntimeError):
    """``redis-server`` is missing, or the server did not start."""


@dataclass(frozen=True)
class RedisServer:
    """A running throwaway server: where it listens."""

    host: str
    port: int
    data_dir: Path

    def url(self, database: int = 0) -> str:
        """``redis://`` URL of logical database ``database`` (the broker on 0, results on 1)."""
        return f"redis://{self.host}:{self.port}/{database}"


@contextmanager
def throwaway_redis(ready_timeout_s: float = 60) -> Iterator[RedisServer]:
    """Start ``redis-server`` on a free loopback port with no persistence; stop and delete it after."""
    program = shutil.which("redis-server")
    if program is None:
        raise RedisUnavailable(INSTALL_HINT)
    data_dir = Path(tempfile.mkdtemp(prefix="kimera-redis-"))
    port = free_port()
    command = [program, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(data_dir)]
    command += ["--save", "", "--appendonly", "no", "--protected-mode", "yes", "--daemonize", "no"]
    log_path = data_dir / "redis.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    server = RedisServer(host="127.0.0.1", port=port, data_dir=data_dir)
    try:
        _wait_ready(server, process, log_path, ready_timeout_s)
        yield server
    finally:
        stop_group(process, grace_s=20)
        shutil.rmtree(data_dir, ignore_errors=True)


def _wait_ready(server: RedisServer, process: subprocess.Popen, log: Path, timeout_s: float) -> None:
    import redis

    deadline = time.monotonic() + timeout_s
    while True:
        if process.poll() is not None:
            raise RedisUnavailable(
                f"redis-server exited with {process.returncode}:\n{log.read_text()[-2000:]}"
            )
        try:
            with redis.Redis(host=server.host, port=server.port, socket_timeout=2) as client:
                if client.ping():
                    return
        except redis.RedisError:
            pass
        if time.monotonic() > deadline:
            raise RedisUnavailable(
                f"redis-server did not answer in {timeout_s:.0f} s:\n{log.read_text()[-2000:]}"
            )
        time.sleep(0.2)
