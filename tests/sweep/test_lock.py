"""One writer per sweep: the lock file, a second process refused, a dead holder's lock free."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from chainrule.sweep.lock import SweepLocked, WriterLock

# Holds the lock until its standard input closes (or it is killed).
_HOLDER = """
import sys
from chainrule.sweep.lock import WriterLock
lock = WriterLock.acquire(sys.argv[1], "the test sweep")
print("locked", flush=True)
sys.stdin.read()
"""


def test_a_second_lock_is_refused_naming_the_holder_until_it_is_released(tmp_path):
    path = tmp_path / "sweep.lock"
    first = WriterLock.acquire(path, "the sweep in here")
    assert first.held and path.read_text() == f"{os.getpid()}\n"
    with pytest.raises(SweepLocked) as refused:
        WriterLock.acquire(path, "the sweep in here")
    assert refused.value.holder == os.getpid()
    assert str(refused.value).startswith(
        f"the sweep in here is being written by another sweep (process {os.getpid()}, lock {path})"
    )
    first.release()
    first.release()  # a second release does nothing
    assert not first.held
    WriterLock.acquire(path, "the sweep in here").release()


def test_another_process_is_refused_and_its_lock_dies_with_it(tmp_path):
    pytest.importorskip("fcntl")  # SIGKILL and flock: POSIX
    path = tmp_path / "sweep.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline() == "locked\n"
        with pytest.raises(SweepLocked, match=rf"\(process {holder.pid}, lock "):
            WriterLock.acquire(path, "the test sweep")
        os.kill(holder.pid, signal.SIGKILL)  # no clean-up: the file still names it
        holder.wait(timeout=10)
    finally:
        if holder.poll() is None:
            holder.kill()
        holder.stdin.close()
        holder.stdout.close()
    assert path.read_text() == f"{holder.pid}\n"  # a stale lock file ...
    lock = WriterLock.acquire(path, "the test sweep")  # ... does not block
    assert path.read_text() == f"{os.getpid()}\n"
    lock.release()
