"""A local worker ends itself when the sweep process that started it dies.

A worker of the sweep's process pool waits for its next run on a queue whose other end it
holds itself, so when the sweep's process is killed outright (``kill -9``, the OOM killer)
nothing tells it: it would train its current run to the end, for minutes, into a directory
no one reads, and then wait for work forever, keeping multiprocessing's resource tracker
alive with it. Each worker therefore starts :func:`watch_parent`, a daemon thread that waits
for the parent to die and then ends the process at once (``os._exit``: no clean-up that
would talk to the dead parent). A run cut short this way is simply run again by ``chainrule
sweep --resume``, which clears its directory first.

How it notices: a process started by ``multiprocessing`` (``spawn``) holds a *sentinel* of its
parent, a pipe end (a process handle on Windows) that becomes ready the moment the parent
exits, however it exits; the thread blocks on it, costing nothing while the parent lives.
Elsewhere it polls ``os.getppid()``, which changes when an orphan is re-parented (POSIX).
(``prctl(PR_SET_PDEATHSIG)`` is not used: Linux sends that signal when the *thread* that
started the worker exits, which need not be when the sweep ends.)
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable

__all__ = ["ORPHANED_EXIT_CODE", "watch_parent"]

#: The exit status of a worker that ended because its parent died.
ORPHANED_EXIT_CODE = 1
#: Seconds between checks where the parent's process id must be polled.
POLL_SECONDS = 0.5


def watch_parent(parent_pid: int, poll_seconds: float = POLL_SECONDS) -> threading.Thread:
    """Start a daemon thread that ends this process once process ``parent_pid`` is gone.

    ``parent_pid`` is the parent's id as the parent itself saw it (passed to the worker), so
    a parent that died before the worker got this far is noticed too.
    """
    parent = multiprocessing.parent_process()
    if parent is not None and parent.pid == parent_pid:
        wait: Callable[[], None] = parent.join  # returns when the parent's sentinel is ready
    else:

        def wait() -> None:
            while os.getppid() == parent_pid:
                time.sleep(poll_seconds)

    thread = threading.Thread(
        target=_exit_after, args=(wait,), name="chainrule-parent-watch", daemon=True
    )
    thread.start()
    return thread


def _exit_after(wait: Callable[[], None]) -> None:
    wait()
    os._exit(ORPHANED_EXIT_CODE)
