"""The suite's own check that no test leaves a process behind sees orphans too, not just children."""

from __future__ import annotations

import subprocess
import sys

from tests.support.leftovers import become_subreaper, kill_all, leftover_processes

# a parent that starts a long-lived server-like grandchild and exits without stopping it
ORPHANING_PARENT = (
    "import subprocess, sys; "
    "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'], "
    "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
    "print(p.pid, flush=True)"
)


def test_an_orphaned_grandchild_is_found_as_left_behind_and_can_be_stopped() -> None:
    assert become_subreaper()  # the session fixture did it already; doing it again is harmless
    parent = subprocess.run(
        [sys.executable, "-c", ORPHANING_PARENT], capture_output=True, text=True, check=True
    )
    orphan = int(parent.stdout.strip())
    try:
        left = leftover_processes(grace_s=0.5)
        assert orphan in [p.pid for p in left], "an orphaned server must count as left behind"
    finally:
        kill_all([p for p in leftover_processes(grace_s=0) if p.pid == orphan])
    assert orphan not in [p.pid for p in leftover_processes(grace_s=0)]
