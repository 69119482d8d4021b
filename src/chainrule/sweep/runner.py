"""``chainrule sweep GRID.yaml``: every point of a grid trained, recorded as it finishes.

The sweep directory::

    sweep.sqlite        the store: every run's recipe, status, timings, metrics, history
    grid.yaml           a copy of the grid file the sweep was started from
    runs/<run name>/    an ordinary run directory per point (see chainrule.app.run)

:func:`run_sweep` expands and validates the grid before anything trains, writes the store,
then keeps one run per worker in flight on the executor and commits each result the moment
it arrives. ``resume=True`` continues a sweep: finished runs are kept, every other run
(pending, running when the sweep was stopped, failed) trains again from a cleared directory.

Local workers are started with ``spawn``: a script that calls :func:`run_sweep` must do so
under ``if __name__ == "__main__":``, as with any ``multiprocessing`` program.

One process writes a sweep at a time: the store's writer lock (``sweep.lock``) refuses a
second ``run_sweep`` on the same directory, naming the process that holds it. The best run
is chosen by the ranking metric on validation data (:mod:`chainrule.sweep.selection`).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chainrule.sweep.executor import RunOutcome, RunTask, open_executor
from chainrule.sweep.grid import Grid, SweepPoint, load_grid
from chainrule.sweep.selection import (
    Ranking,
    best_run,
    choose_ranking,
    holds_validation,
)
from chainrule.sweep.store import LOCK_SUFFIX, STORE_NAME, RunRecord, SweepStore, SweepStoreError
from chainrule.utils.atomic import atomic_write_text
from chainrule.utils.validation import check_integer

__all__ = ["SweepSummary", "run_sweep"]

#: How often a run may be lost to a worker process dying under it before it counts as failed.
MAX_LOST = 2


@dataclass
class SweepSummary:
    """What a sweep did: counts, the best run so far, where everything is."""

    name: str
    directory: Path
    store: Path
    executor: str
    total: int
    finished: int
    failed: int
    skipped: int  # finished before this call (resume)
    seconds: float
    ranking: Ranking  # the metric that chose the best run
    best: RunRecord | None
    failures: dict[str, str] = field(default_factory=dict)  # run name -> error line

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.finished == self.total

    @property
    def metric(self) -> str:
        """The ranking metric's name."""
        return self.ranking.metric

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``--json``."""
        best = None
        if self.best is not None:
            best = {
                "name": self.best.name,
                "factors": self.best.factors,
                self.metric: self.best.metric(self.metric),
                "directory": str(self.directory / self.best.directory),
            }
        return {
            "name": self.name,
            "directory": str(self.directory),
            "store": str(self.store),
            "executor": self.executor,
            "total": self.total,
            "finished": self.finished,
            "failed": self.failed,
            "skipped": self.skipped,
            "seconds": self.seconds,
            "metric": self.metric,
            "ranking": self.ranking.describe(),
            "best": best,
            "failures": self.failures,
        }

    def text(self) -> str:
        """A few lines for the terminal."""
        lines = [
            f"sweep {self.name}: {self.finished}/{self.total} runs finished, {self.failed} failed"
            + (f" ({self.skipped} already done)" if self.skipped else "")
            + f" in {self.seconds:.1f} s on {self.executor}",
        ]
        if self.best is not None:
            value = self.best.metric(self.metric)
            lines.append(f"best by {self.metric}: {self.best.name} ({value:.4f})")
        elif self.finished:
            lines.append(f"no finished run recorded {self.metric}: no best run")
        if self.ranking.on_test_set:
            lines.append(f"note: {self.ranking.describe()}")
        for name, error in self.failures.items():
            lines.append(f"failed: {name}: {error}")
        lines.append(f"results: {self.store}  (chainrule compare {self.directory})")
        return "\n".join(lines)


# -- the sweep -------------------------------------------------------------------------------
def run_sweep(
    grid_path: str | Path,
    *,
    out_dir: str | Path | None = None,
    workers: int | None = None,
    scheduler: Any = None,
    resume: bool = False,
    data_dir: str | Path | None = None,
    progress: bool = True,
    epochs: int | None = None,
    overrides: list[str] | None = None,
    metric: str | None = None,
    figures: bool = True,
    download: bool = True,
    on_result: Callable[[RunRecord], None] | None = None,
) -> SweepSummary:
    """Train every point of the grid in ``grid_path`` and record it in ``sweep.sqlite``.

    ``out_dir`` defaults to ``runs/sweeps/<grid name>``. ``workers`` local processes (default:
    the cores), or the Dask cluster at ``scheduler`` (address or ``distributed.Client``).
    ``overrides`` (``key=value``) apply to the base recipe; ``epochs`` caps every run's epochs.
    ``metric`` ranks runs for "best so far" (default: the grid's ``metric``, else val_accuracy,
    else, when no run holds out validation data, test_accuracy; a test metric is refused
    when there is validation data). ``figures=False`` skips each run's figures and report
    (faster). ``on_result`` is called with each stored result (after its commit).

    Raises ``ValueError``/``FileNotFoundError`` before anything trains for a bad grid, a bad
    point, a test-set ranking metric, an existing sweep without ``resume``, or a resume whose
    grid has changed; :class:`~chainrule.sweep.lock.SweepLocked` while another process writes
    the sweep; :class:`~chainrule.sweep.store.SweepStoreError` (an ``OSError``) when the store
    cannot be written.
    """
    started = time.perf_counter()
    if workers is not None:
        workers = check_integer(workers, "workers")
    grid = load_grid(grid_path, overrides=overrides, epochs=epochs)
    ranking = choose_ranking(
        metric or grid.metric,
        holds_validation(point.recipe_dict() for point in grid.points),
        source="metric" if metric else f"{grid.source}: metric",
    )
    data_dir = None if data_dir is None else str(Path(data_dir).resolve())
    _check_datasets(grid.points, data_dir, download, progress)
    directory = Path(out_dir) if out_dir is not None else Path("runs") / "sweeps" / grid.name
    directory = directory.resolve()
    store = _open_store(directory, grid, resume)
    try:
        return _run(
            grid,
            directory,
            store,
            started=started,
            workers=workers,
            scheduler=scheduler,
            data_dir=data_dir,
            progress=progress,
            ranking=ranking,
            figures=figures,
            download=download,
            on_result=on_result,
        )
    finally:
        store.close()


def _open_store(directory: Path, grid: Grid, resume: bool) -> SweepStore:
    path = directory / STORE_NAME
    fresh = [
        {
            "name": point.name,
            "position": point.position,
            "factors": point.factors,
            "overrides": point.overrides,
            "source": point.source,
            "recipe": point.recipe_dict(),
            "directory": f"runs/{point.name}",
        }
        for point in grid.points
    ]
    meta = {
        "name": grid.name,
        "description": grid.description,
        "grid_source": grid.source,
        "grid_text": grid.text,
        "factors": json.dumps(grid.factors),
        "levels": json.dumps({factor: grid.levels(factor) for factor in grid.factors}),
        "metric": grid.metric or "",
        "created_at": repr(time.time()),
    }
    if path.is_file():
        if not resume:
            raise ValueError(
                f"{directory} already holds a sweep ({STORE_NAME}); resume it (--resume) or "
                "choose another output directory"
            )
        store = SweepStore.open(path)
        try:
            if store.initialized:
                _check_same_grid(store, grid, fresh)
            else:  # killed while the store was being created: nothing ran yet
                store.initialize(meta, fresh)
        except BaseException:
            store.close()
            raise
    else:
        # a lock file alone is what a writer killed before it created the store leaves
        if directory.exists() and any(p.suffix != LOCK_SUFFIX for p in directory.iterdir()):
            raise ValueError(
                f"output directory {directory} is not empty and holds no sweep; choose another "
                "output directory or remove it"
            )
        store = SweepStore.create(path)
        store.initialize(meta, fresh)
    atomic_write_text(directory / "grid.yaml", grid.text)
    return store


def _check_same_grid(store: SweepStore, grid: Grid, fresh: list[dict[str, Any]]) -> None:
    where = store.path.parent
    if store.meta("grid_text") != grid.text:
        raise ValueError(
            f"the grid file {grid.source} has changed since the sweep in {where} started "
            f"(its copy: {where / 'grid.yaml'}); resume with the original grid, or start the "
            "changed grid in a new output directory"
        )
    stored = {record.name: record.source for record in store.runs()}
    wanted = {run["name"]: json.loads(json.dumps(run["source"])) for run in fresh}
    if stored.keys() != wanted.keys():
        raise ValueError(
            f"the sweep in {where} has runs {sorted(stored)} but the grid now expands to "
            f"{sorted(wanted)}; start it in a new output directory"
        )
    changed = [name for name in wanted if stored[name] != wanted[name]]
    if changed:
        raise ValueError(
            f"the grid file is unchanged but the recipes of {len(changed)} run(s) differ from "
            f"those stored in {where} (first: {changed[0]}): the base recipe, --set overrides "
            "or the epochs cap changed; resume with the original settings, or use a new "
            "output directory"
        )


def _run(
    grid: Grid,
    directory: Path,
    store: SweepStore,
    *,
    started: float,
    workers: int | None,
    scheduler: Any,
    data_dir: str | None,
    progress: bool,
    ranking: Ranking,
    figures: bool,
    download: bool,
    on_result: Callable[[RunRecord], None] | None,
) -> SweepSummary:
    from chainrule.sweep.display import SweepDisplay

    records = store.runs()
    skipped = sum(record.status == "finished" for record in records)
    todo = [record for record in records if record.status != "finished"]
    points = {point.name: point for point in grid.points}
    queue = [
        RunTask(
            name=record.name,
            recipe=_absolute_paths(points[record.name].recipe_dict()),
            directory=str(directory / record.directory),
            data_dir=data_dir,
            download=download,
            figures=figures,
        )
        for record in todo
    ]
    metric = ranking.metric
    description = "nothing to run"

    with SweepDisplay(grid.name, len(records), skipped, metric, enabled=progress) as display:
        display.update_best(best_run(records, metric))

        def stored(record: RunRecord) -> None:
            display.finished(record, best_run(store.runs(), metric))
            if on_result is not None:
                on_result(record)

        lost: dict[str, int] = {}
        while queue:  # more than once only when a local worker process died
            with open_executor(workers, scheduler, runs=len(queue)) as info:
                description = info.description
                display.set_executor(description)
                queue = _execute(info.executor, info.slots, queue, store, display, stored, lost)
    records = store.runs()
    counts = store.counts()
    return SweepSummary(
        name=grid.name,
        directory=directory,
        store=store.path,
        executor=description,
        total=len(records),
        finished=counts["finished"],
        failed=counts["failed"],
        skipped=skipped,
        seconds=time.perf_counter() - started,
        ranking=ranking,
        best=best_run(records, metric),
        failures={r.name: r.error or "failed" for r in records if r.status == "failed"},
    )


def _execute(
    executor: Any,
    slots: int,
    queue: list[RunTask],
    store: SweepStore,
    display: Any,
    stored: Callable[[RunRecord], None],
    lost: dict[str, int],
) -> list[RunTask]:
    """Keep ``slots`` runs in flight and store each result as it arrives (the only writer).

    Returns the runs still to do when the process pool broke (a worker process died: every
    run in flight is lost with it and is tried again in a new pool, up to ``MAX_LOST`` times).
    """
    from chainrule.sweep.executor import run_point

    pending = list(reversed(queue))  # pop() from the end keeps grid order
    in_flight: dict[Future, RunTask] = {}
    broken = False
    try:
        while (pending and not broken) or in_flight:
            while pending and not broken and len(in_flight) < slots:
                task = pending.pop()
                store.mark_running(task.name)
                try:
                    in_flight[executor.submit(run_point, task)] = task
                except BrokenProcessPool:
                    pending.append(task)
                    store.mark_pending([task.name])
                    broken = True
                    break
                display.started(task.name)
            if not in_flight:
                break
            done, _ = wait(list(in_flight), return_when=FIRST_COMPLETED)
            for future in done:
                task = in_flight.pop(future)
                outcome = _outcome(future, task)
                if outcome is None:  # its worker process died
                    broken = True
                    lost[task.name] = lost.get(task.name, 0) + 1
                    if lost[task.name] < MAX_LOST:
                        store.mark_pending([task.name])
                        pending.append(task)
                        display.requeued(task.name)
                        continue
                    outcome = _lost_outcome(task, lost[task.name])
                _store(store, outcome)
                stored(store.run(outcome.name))
    except BaseException:  # Ctrl-C: what is in flight goes back to pending
        for future in in_flight:
            future.cancel()
        # a store that refused a write may refuse this one too: the error to report is the
        # first (a run left 'running' goes back to pending on resume anyway)
        with contextlib.suppress(SweepStoreError):
            store.mark_pending(task.name for task in in_flight.values())
        raise
    return list(reversed(pending))


def _store(store: SweepStore, outcome: RunOutcome) -> None:
    store.record_result(
        outcome.name,
        status=outcome.status,
        started_at=outcome.started_at,
        finished_at=outcome.finished_at,
        metrics=outcome.metrics,
        history=outcome.history,
        error=outcome.error,
        traceback=outcome.traceback,
        worker=outcome.worker,
        cpu_seconds=outcome.cpu_seconds,
    )


def _outcome(future: Future, task: RunTask) -> RunOutcome | None:
    """The run's outcome; None when the worker process died before it could report."""
    try:
        return future.result()
    except BrokenProcessPool:
        return None
    except Exception as error:  # e.g. Dask's KilledWorker, or an outcome that would not pickle
        import traceback

        now = time.time()
        return RunOutcome(
            name=task.name,
            status="failed",
            started_at=now,
            finished_at=now,
            worker="?",
            error=f"{type(error).__name__}: {error}",
            traceback="".join(traceback.format_exception(error)),
        )


def _lost_outcome(task: RunTask, times: int) -> RunOutcome:
    now = time.time()
    message = (
        f"the worker process died {times} times while running this run (killed, or out of memory?)"
    )
    return RunOutcome(task.name, "failed", now, now, "?", error=message, traceback=message)


def _absolute_paths(recipe: dict[str, Any]) -> dict[str, Any]:
    """A dataset given as a relative folder or file is made absolute, so any worker finds it."""
    data = recipe.get("data") or {}
    for key in ("dataset", "data_dir", "test_file"):
        value = data.get(key)
        if isinstance(value, str) and not Path(value).is_absolute() and Path(value).exists():
            data[key] = str(Path(value).resolve())
    return recipe


def _check_datasets(
    points: list[SweepPoint], data_dir: str | None, download: bool, progress: bool
) -> None:
    """Find (or download once, if allowed) each registered dataset the runs need, so a
    missing dataset stops the sweep with one message instead of failing every run."""
    from chainrule.data import DatasetNotFoundError, load_dataset, locate

    seen = set()
    for point in points:
        spec = point.recipe.data
        key = (spec.dataset, data_dir or spec.data_dir)
        if key in seen or spec.kind != "registered":  # a folder, a file, a 2-D set: no fetch
            continue
        seen.add(key)
        try:
            locate(spec.dataset, key[1])  # reads headers only: cheap when the files are there
        except DatasetNotFoundError:
            if not download:
                raise
            load_dataset(spec.dataset, key[1], download=True, progress=progress)
