"""Where sweep runs execute: local processes or a Dask cluster, both as ``concurrent.futures``.

:func:`open_executor` gives a :class:`concurrent.futures.Executor` and how many runs it can
work on at once. Locally that is a ``ProcessPoolExecutor`` of ``workers`` processes started
with ``spawn`` (a fresh interpreter each, no forked BLAS state); with a scheduler address it
is ``distributed.Client(address).get_executor()``. The sweep submits :func:`run_point` to
either the same way and reads the same :class:`RunOutcome` back.

Every run trains with one BLAS thread: ``workers`` runs in parallel on ``workers`` cores is
the whole parallelism, and a matrix product split over one thread gives the same bits on any
executor, so the same seed gives the same metrics locally and on a cluster. Local workers get
``OMP_NUM_THREADS=1`` (and the OpenBLAS/MKL spellings) in their environment before NumPy is
imported, and :func:`run_point` itself caps BLAS at one thread while it trains, for executors
whose workers were started elsewhere (Dask's nanny sets the same variables by default).

A local worker whose sweep process dies (``kill -9``) ends itself within moments instead of
training on for nobody (:mod:`chainrule.sweep.watchdog`).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import shutil
import socket
import threading
import time
import traceback
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chainrule.sweep.watchdog import watch_parent
from chainrule.utils.validation import check_integer

__all__ = [
    "THREAD_VARIABLES",
    "ExecutorInfo",
    "RunOutcome",
    "RunTask",
    "blas_threads",
    "default_workers",
    "open_executor",
    "run_point",
]

#: Environment variables that cap a BLAS / OpenMP library's threads.
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


@dataclass(frozen=True)
class RunTask:
    """What a worker needs for one run: plain data, so it pickles to any executor."""

    name: str
    recipe: dict[str, Any]
    directory: str  # absolute
    data_dir: str | None = None
    download: bool = True
    figures: bool = True


@dataclass
class RunOutcome:
    """What comes back: ``finished`` with metrics and history, or ``failed`` with the error."""

    name: str
    status: str
    started_at: float
    finished_at: float
    worker: str
    metrics: dict[str, Any] | None = None
    history: dict[str, list[float | None]] = field(default_factory=dict)
    error: str | None = None
    traceback: str | None = None
    cpu_seconds: float | None = None  # of the worker process (all its threads) during the run


@dataclass(frozen=True)
class ExecutorInfo:
    executor: Executor
    slots: int  # runs in flight at once
    description: str


# -- the work --------------------------------------------------------------------------------
def run_point(task: RunTask) -> RunOutcome:
    """Train one grid point into its run directory (cleared first); never raises for a run
    that fails: the error and its traceback come back in the outcome."""
    started = time.time()
    cpu_started = time.process_time()
    worker = f"{socket.gethostname()}:{os.getpid()}"
    try:
        from chainrule.app.recipes import Recipe
        from chainrule.app.run import train_recipe

        directory = Path(task.directory)
        if directory.exists():  # a half-written directory from an interrupted attempt
            shutil.rmtree(directory)
        recipe = Recipe.model_validate(task.recipe)
        with single_blas_thread():
            result = train_recipe(
                recipe,
                out_dir=directory,
                data_dir=task.data_dir,
                download=task.download,
                progress=False,
                figures=task.figures,
                threads=1,  # the sweep runs one training per core
            )
        return RunOutcome(
            name=task.name,
            status="finished",
            started_at=started,
            finished_at=time.time(),
            worker=worker,
            metrics=result.metrics,
            history=result.history.to_dict(),
            cpu_seconds=time.process_time() - cpu_started,
        )
    except Exception as error:  # a failed run is a result, not the end of the sweep
        return RunOutcome(
            name=task.name,
            status="failed",
            started_at=started,
            finished_at=time.time(),
            worker=worker,
            error=f"{type(error).__name__}: {error}",
            traceback=traceback.format_exc(),
            cpu_seconds=time.process_time() - cpu_started,
        )


_blas_lock = threading.Lock()
_blas_users = 0
_blas_limiter: Any = None


@contextlib.contextmanager
def single_blas_thread() -> Iterator[None]:
    """Cap BLAS at one thread while any run in this process trains.

    Reference-counted, so runs in several threads of one process (a Dask worker with more
    than one thread) do not restore the old cap under each other's feet.
    """
    global _blas_users, _blas_limiter
    from threadpoolctl import threadpool_limits

    with _blas_lock:
        if _blas_users == 0:
            _blas_limiter = threadpool_limits(limits=1, user_api="blas")
        _blas_users += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_users -= 1
            if _blas_users == 0 and _blas_limiter is not None:
                _blas_limiter.restore_original_limits()
                _blas_limiter = None


def blas_threads() -> dict[str, int]:
    """The thread cap of each BLAS library NumPy loaded in this process (a worker's check)."""
    import numpy  # noqa: F401 - loads the BLAS library
    from threadpoolctl import threadpool_info

    return {
        f"{info['internal_api']}:{info['filepath']}": info["num_threads"]
        for info in threadpool_info()
        if info["user_api"] == "blas"
    }


def _init_local_worker(parent_pid: int) -> None:
    """Process-pool initializer: end with the sweep process ``parent_pid``, and one BLAS
    thread for everything this worker does."""
    watch_parent(parent_pid)
    for variable in THREAD_VARIABLES:
        os.environ[variable] = "1"
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)


# -- executors -------------------------------------------------------------------------------
def default_workers() -> int:
    """The cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@contextlib.contextmanager
def open_executor(
    workers: int | None = None, scheduler: Any = None, runs: int | None = None
) -> Iterator[ExecutorInfo]:
    """A local process pool (``workers``, default: the cores, never more than ``runs``) or,
    given ``scheduler`` (an address such as ``tcp://10.0.0.5:8786``, or a
    ``distributed.Client``), that Dask cluster's executor."""
    if workers is not None:
        workers = check_integer(workers, "workers")
    if scheduler is not None:
        with _dask_executor(scheduler, workers) as info:
            yield info
        return
    count = workers or default_workers()
    if runs is not None:
        count = max(1, min(count, runs))
    pool = ProcessPoolExecutor(
        max_workers=count,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_local_worker,
        initargs=(os.getpid(),),
    )
    plural = "es" if count != 1 else ""
    try:
        yield ExecutorInfo(pool, count, f"{count} local process{plural}")
    except BaseException:
        # Interrupted (Ctrl-C) or failed: runs still training would only be thrown away, so
        # stop the pool's own processes instead of waiting for them.
        processes = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join(timeout=5)
        raise
    pool.shutdown(wait=True)


@contextlib.contextmanager
def _dask_executor(scheduler: Any, workers: int | None) -> Iterator[ExecutorInfo]:
    try:
        from distributed import Client
    except ImportError:
        raise ImportError(
            "a Dask scheduler needs the optional 'distributed' package: "
            "pip install 'chainrule[dask]'"
        ) from None
    owned = not isinstance(scheduler, Client)
    if owned:
        if not isinstance(scheduler, str) or not scheduler.strip():
            raise ValueError(
                f"scheduler is a Dask scheduler address such as tcp://127.0.0.1:8786, "
                f"got {scheduler!r}"
            )
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as error:
            raise ValueError(
                f"cannot connect to the Dask scheduler at {scheduler}: {error}"
            ) from None
    else:
        client = scheduler
    try:
        threads = sum(client.nthreads().values())
        slots = workers or max(1, threads)
        executor = client.get_executor(pure=False)
        address = client.scheduler.address if client.scheduler else scheduler
        description = f"Dask cluster at {address} ({threads} worker thread{'s' * (threads != 1)})"
        try:
            yield ExecutorInfo(executor, slots, description)
        finally:
            executor.shutdown(wait=False)
    finally:
        if owned:
            client.close()
