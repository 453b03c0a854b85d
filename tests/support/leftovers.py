"""Processes a test run leaves behind: the suite fails if any outlive it (they would keep ports,
files and CPU of the next run, as a paper venue server of the status-page test once did).

The pytest process becomes a *child subreaper* (Linux ``PR_SET_CHILD_SUBREAPER``), so a server
started by a server the test started (``kimera execute`` starting the paper venue server) is
re-parented to pytest when its parent dies instead of vanishing under init: it is still counted.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys

import psutil

PR_SET_CHILD_SUBREAPER = 36
# helpers a library starts once and that exit with the interpreter, by design, not by a test
LIBRARY_HELPERS = ("multiprocessing.resource_tracker", "multiprocessing.forkserver", "joblib.externals.loky")


def become_subreaper() -> bool:
    """Make orphaned descendants of this process its children (Linux only; False elsewhere)."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


def _cmdline(proc: psutil.Process) -> str:
    try:
        return " ".join(proc.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return ""


def leftover_processes(grace_s: float = 5.0) -> list[psutil.Process]:
    """Descendants of this process still running after ``grace_s`` (library helpers excepted); zombies reaped."""
    me = psutil.Process()
    candidates = [
        p for p in me.children(recursive=True) if not any(h in _cmdline(p) for h in LIBRARY_HELPERS)
    ]
    _, alive = psutil.wait_procs(candidates, timeout=grace_s)
    _reap_zombies()
    return [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def _reap_zombies() -> None:
    """Collect exited orphans re-parented to us (as a subreaper we must, or they stay as zombies)."""
    for child in psutil.Process().children():
        try:
            if child.status() == psutil.STATUS_ZOMBIE:
                os.waitpid(child.pid, os.WNOHANG)
        except (psutil.NoSuchProcess, ChildProcessError):
            pass


def describe(processes: list[psutil.Process]) -> str:
    return "\n".join(f"  pid {p.pid}: {_cmdline(p)[:300]}" for p in processes)


def kill_all(processes: list[psutil.Process]) -> None:
    """Kill what was left, so one leaking test does not leave it running after the suite either."""
    for proc in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    psutil.wait_procs(processes, timeout=10)
    _reap_zombies()
