"""A sweep's workers end when the sweep process is killed (kill -9 of the parent alone)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")

REPO = Path(__file__).resolve().parents[2]

# A sweep's process pool with one worker busy for ten minutes; prints the worker's and the
# resource tracker's process ids, then waits to be killed.
_POOL = """
import os, time
from multiprocessing import resource_tracker
from chainrule.sweep.executor import open_executor
with open_executor(workers=1, runs=1) as info:
    worker = info.executor.submit(os.getpid).result()
    info.executor.submit(time.sleep, 600)
    print(worker, resource_tracker._resource_tracker._pid or "", flush=True)
    time.sleep(600)
"""

# A plain child (not started by multiprocessing) that watches its parent by its id.
_CHILD = """
import os, sys, time
from chainrule.sweep.watchdog import watch_parent
watch_parent(int(sys.argv[1]), poll_seconds=0.05)
print(os.getpid(), flush=True)
time.sleep(600)
"""
_PARENT = """
import os, subprocess, sys
child = subprocess.Popen([sys.executable, "-c", sys.argv[1], str(os.getpid())],
                         stdout=subprocess.PIPE, text=True)
print(child.stdout.readline().strip(), flush=True)
child.wait()
"""


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (an exited child nobody reaped yet, a zombie, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):  # no /proc (macOS), or it exited just now
        return stat.exists() or not Path("/proc").is_dir()


def _gone_within(pids: list[int], seconds: float) -> list[int]:
    """The pids still alive after waiting up to ``seconds`` for them to exit."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
        time.sleep(0.05)
    return [pid for pid in pids if _alive(pid)]


def _kill_parent(script: str, *arguments: str) -> list[int]:
    """Start ``script``, read the pids it prints, SIGKILL it alone; returns those pids."""
    parent = subprocess.Popen(
        [sys.executable, "-c", script, *arguments], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        pids = [int(pid) for pid in parent.stdout.readline().split()]
        assert pids, "the parent printed no process ids"
    finally:
        parent.kill()  # SIGKILL: the parent alone, its children are not signalled
        parent.wait(timeout=10)
        parent.stdout.close()
    return pids


def test_pool_workers_and_the_resource_tracker_exit_when_the_sweep_is_killed():
    pids = _kill_parent(_POOL)
    left = _gone_within(pids, seconds=10)
    for pid in left:  # do not leave them behind if the check fails
        os.kill(pid, signal.SIGKILL)
    assert not left, f"still running 10 s after their parent was killed: {left}"


def test_a_child_not_started_by_multiprocessing_notices_by_polling_its_parent_id():
    (child,) = _kill_parent(_PARENT, _CHILD)
    left = _gone_within([child], seconds=10)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left
