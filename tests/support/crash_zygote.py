"""A zygote for crash tests: imports the execution service once, then forks a fresh copy of it for
each line read on stdin, armed to SIGKILL itself at a chosen point. Forking skips the seconds of
imports a new interpreter costs, so a test can crash the service at a hundred points in minutes.

Each line is ``KIND K``: the copy dies at the K-th occurrence of KIND,

* ``journal:before`` - a journal group is written but not committed (the work is lost);
* ``journal:after``  - committed, before anyone waiting on it is told (the venue call never goes);
* ``venue:before``   - a request to a venue is about to be sent;
* ``venue:after``    - the venue's answer came back, before the service acts on it;
* ``none``           - never (the copy runs until it is killed from outside).

The zygote answers each line with the copy's pid. Run: ``python -m tests.support.crash_zygote PORT``.
"""

from __future__ import annotations

import os
import signal
import sys

import execution.app
from execution.journal import Journal
from execution.venues.http import LoopbackHttpClient

KINDS = ("journal:before", "journal:after", "venue:before", "venue:after")


def _arm(kind: str, k: int) -> None:
    seen = 0

    def hit() -> None:
        nonlocal seen
        seen += 1
        if seen == k:
            os.kill(os.getpid(), signal.SIGKILL)

    if kind.startswith("journal:"):
        commit = Journal._commit_group

        def commit_group(self, cur, group):
            if kind == "journal:before":
                hit()
            errors = commit(self, cur, group)
            if kind == "journal:after":
                hit()
            return errors

        Journal._commit_group = commit_group
    elif kind.startswith("venue:"):
        request = LoopbackHttpClient.request

        async def venue_request(self, *args, **kwargs):
            if kind == "venue:before":
                hit()
            answer = await request(self, *args, **kwargs)
            if kind == "venue:after":
                hit()
            return answer

        LoopbackHttpClient.request = venue_request


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def main() -> None:
    port = int(sys.argv[1])
    for line in sys.stdin:
        kind, k = line.split()
        _reap()
        pid = os.fork()
        if pid == 0:  # the copy: quiet, armed, serving
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
            _arm(kind, int(k))
            try:
                execution.app.serve_cli(port)
            finally:
                os._exit(0)
        print(pid, flush=True)
    _reap()


if __name__ == "__main__":
    main()
