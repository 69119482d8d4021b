"""The sweep's record: one SQLite file (``sweep.sqlite``) in the sweep directory.

Tables::

    meta     key -> value: the grid file's text, its name, the schema version, timestamps
    runs     one row per grid point: name, position, factor levels and overrides (JSON), the
             recipe as written and as resolved (JSON), status, attempts, queued/started/finished times, wall and CPU
             seconds,
             final metrics (JSON), error and traceback, which worker ran it, its directory
    epochs   one row per run and epoch: the History columns (train/val loss and accuracy,
             learning rate, seconds)

Status goes ``pending`` -> ``running`` -> ``finished`` or ``failed``. Only the sweep's parent
process writes (one writer), in WAL mode, and each result is one transaction committed the
moment it arrives: a sweep that is interrupted or killed loses no finished run, and a reader
(``chainrule compare`` on a sweep still running) never blocks it.

One writer is enforced, not assumed: a store opened for writing holds ``sweep.lock`` beside
it (:mod:`chainrule.sweep.lock`) until it is closed, and a second writer is refused with the
holder's process id. A write the disk refuses (full, read-only, an I/O error) is rolled back
and raised as :class:`SweepStoreError`, one line naming the file and the cause; every result
committed before it stays.
"""

from __future__ import annotations

import json
import math
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chainrule.sweep.lock import WriterLock
from chainrule.training.history import EPOCH_KEYS
from chainrule.utils.validation import is_number

__all__ = ["LOCK_SUFFIX", "STATUSES", "STORE_NAME", "RunRecord", "SweepStore", "SweepStoreError"]

STORE_NAME = "sweep.sqlite"
#: The writer's lock file is the store's name with this suffix: ``sweep.lock``.
LOCK_SUFFIX = ".lock"
SCHEMA_VERSION = "1"
STATUSES = ("pending", "running", "finished", "failed")

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    name        TEXT PRIMARY KEY,
    position    INTEGER NOT NULL,
    factors     TEXT NOT NULL,
    overrides   TEXT NOT NULL,
    source      TEXT NOT NULL,
    recipe      TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ({", ".join(repr(s) for s in STATUSES)})),
    attempts    INTEGER NOT NULL DEFAULT 0,
    queued_at   REAL,
    started_at  REAL,
    finished_at REAL,
    seconds     REAL,
    cpu_seconds REAL,
    metrics     TEXT,
    error       TEXT,
    traceback   TEXT,
    worker      TEXT,
    directory   TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS epochs (
    run   TEXT NOT NULL REFERENCES runs(name),
    {", ".join(f"{key} REAL" for key in EPOCH_KEYS)},
    PRIMARY KEY (run, epoch)
);
"""


@dataclass
class RunRecord:
    """One row of ``runs``, decoded."""

    name: str
    position: int
    factors: dict[str, str]
    overrides: dict[str, Any]
    source: dict[str, Any]  # the recipe as the grid wrote it (what a resume must match)
    recipe: dict[str, Any]  # as resolved, every default filled in
    status: str
    attempts: int
    queued_at: float | None
    started_at: float | None
    finished_at: float | None
    seconds: float | None
    cpu_seconds: float | None
    metrics: dict[str, Any] | None
    error: str | None
    traceback: str | None
    worker: str | None
    directory: str

    def metric(self, key: str) -> float | None:
        """A final metric as a float, or None when the run has none (failed, unfinished)."""
        value = (self.metrics or {}).get(key)
        return float(value) if is_number(value) else None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class SweepStoreError(OSError):
    """The store's file could not be opened or written: one line, the file and the cause."""

    def __init__(self, path: Path, error: sqlite3.Error, action: str = "write") -> None:
        message = f"cannot {action} the sweep store {path}: {error}"
        if action == "write":
            message += (
                " (every result committed before is kept; fix the cause, then resume the "
                "sweep with --resume)"
            )
        super().__init__(message)
        self.path = path


class SweepStore:
    """The SQLite file of one sweep; open with :meth:`create` or :meth:`open`.

    A store opened for writing holds the writer lock (``lock``) until :meth:`close`.
    """

    def __init__(
        self, connection: sqlite3.Connection, path: Path, lock: WriterLock | None = None
    ) -> None:
        self.connection = connection
        self.path = path
        self.lock = lock

    # -- opening ---------------------------------------------------------------------------
    @classmethod
    def create(cls, path: str | Path) -> SweepStore:
        """A new store (the file must not exist yet), locked for this process."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = _writer_lock(path)
        try:
            if path.exists():
                raise ValueError(f"{path} already exists; open it to resume instead")
            store = cls(_connect(path), path, lock)
        except BaseException:
            lock.release()
            raise
        try:
            with store.transaction() as connection:
                connection.executescript(_SCHEMA)
                connection.execute(
                    "INSERT INTO meta (key, value) VALUES ('schema_version', ?)", (SCHEMA_VERSION,)
                )
        except BaseException:
            store.close()
            raise
        return store

    @classmethod
    def open(cls, path: str | Path, readonly: bool = False) -> SweepStore:
        """An existing store; ``readonly`` for readers such as ``compare`` (no lock taken).

        Opened for writing, it is locked for this process: raises
        :class:`~chainrule.sweep.lock.SweepLocked` naming the holder's process id while
        another process has it open for writing.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"sweep store not found: {path}")
        lock = None if readonly else _writer_lock(path)
        try:
            connection = _connect(path, readonly)
        except BaseException:
            if lock is not None:
                lock.release()
            raise
        store = cls(connection, path, lock)
        try:
            version = store.meta("schema_version")
        except sqlite3.DatabaseError as error:
            store.close()
            raise ValueError(f"{path} is not a chainrule sweep store: {error}") from None
        if version != SCHEMA_VERSION:
            store.close()
            raise ValueError(
                f"{path}: sweep store schema version {version!r}, this chainrule reads "
                f"{SCHEMA_VERSION!r}"
            )
        return store

    def close(self) -> None:
        """Close the file and drop the writer lock (the next writer may open it)."""
        try:
            self.connection.close()
        finally:
            if self.lock is not None:
                self.lock.release()

    def __enter__(self) -> SweepStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic, committed write (rolled back if the block raises).

        A write or commit SQLite refuses (disk full, read-only file, I/O error) raises
        :class:`SweepStoreError` naming the file and the cause.
        """
        try:
            with self.connection:
                yield self.connection
        except sqlite3.Error as error:
            raise SweepStoreError(self.path, error) from None

    # -- meta ------------------------------------------------------------------------------
    def meta(self, key: str) -> str | None:
        row = self.connection.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def set_meta(self, values: dict[str, str]) -> None:
        with self.transaction() as connection:
            _set_meta(connection, values)

    def initialize(self, meta: dict[str, str], runs: Iterable[dict[str, Any]]) -> None:
        """Write the sweep's meta data and its runs (all ``pending``) in one commit."""
        with self.transaction() as connection:
            _set_meta(connection, meta)
            _add_runs(connection, runs)

    @property
    def initialized(self) -> bool:
        """Whether :meth:`initialize` has run (a sweep killed while creating its store: no)."""
        return self.meta("grid_text") is not None

    # -- runs ------------------------------------------------------------------------------
    def add_runs(self, runs: Iterable[dict[str, Any]]) -> None:
        """Insert runs as ``pending``: dicts with name, position, factors, overrides, source
        (optional), recipe, directory."""
        with self.transaction() as connection:
            _add_runs(connection, runs)

    def runs(self, status: str | None = None) -> list[RunRecord]:
        """Every run (or those with ``status``), in grid order."""
        query = "SELECT * FROM runs"
        arguments: tuple[Any, ...] = ()
        if status is not None:
            query += " WHERE status = ?"
            arguments = (status,)
        cursor = self.connection.execute(query + " ORDER BY position", arguments)
        columns = [description[0] for description in cursor.description]
        return [_record(dict(zip(columns, row, strict=True))) for row in cursor.fetchall()]

    def run(self, name: str) -> RunRecord:
        matches = [record for record in self.runs() if record.name == name]
        if not matches:
            raise KeyError(f"no run named {name!r} in {self.path}")
        return matches[0]

    def counts(self) -> dict[str, int]:
        """How many runs are in each status."""
        counts = dict.fromkeys(STATUSES, 0)
        for status, count in self.connection.execute(
            "SELECT status, COUNT(*) FROM runs GROUP BY status"
        ):
            counts[status] = count
        return counts

    def mark_running(self, name: str, queued_at: float | None = None) -> None:
        """The run was handed to a worker: one more attempt, previous results cleared."""
        with self.transaction() as connection:
            connection.execute("DELETE FROM epochs WHERE run = ?", (name,))
            connection.execute(
                "UPDATE runs SET status = 'running', attempts = attempts + 1, queued_at = ?, "
                "started_at = NULL, finished_at = NULL, seconds = NULL, cpu_seconds = NULL, metrics = NULL, "
                "error = NULL, traceback = NULL, worker = NULL WHERE name = ?",
                (queued_at if queued_at is not None else time.time(), name),
            )

    def mark_pending(self, names: Iterable[str]) -> None:
        """Runs handed out but never finished (an interrupted sweep) go back to pending."""
        with self.transaction() as connection:
            connection.executemany(
                "UPDATE runs SET status = 'pending' WHERE name = ? AND status = 'running'",
                [(name,) for name in names],
            )

    def record_result(
        self,
        name: str,
        *,
        status: str,
        started_at: float | None = None,
        finished_at: float | None = None,
        metrics: dict[str, Any] | None = None,
        history: dict[str, list[float | None]] | None = None,
        error: str | None = None,
        traceback: str | None = None,
        worker: str | None = None,
        cpu_seconds: float | None = None,
    ) -> None:
        """Store a run's outcome (``finished`` or ``failed``) and its history, in one commit."""
        if status not in ("finished", "failed"):
            raise ValueError(f"a result's status is 'finished' or 'failed', got {status!r}")
        finished_at = finished_at if finished_at is not None else time.time()
        seconds = finished_at - started_at if started_at is not None else None
        rows = []
        if history:
            length = len(history.get("epoch", []))
            for index in range(length):
                rows.append(
                    (name, *(_real(history.get(key, [None] * length)[index]) for key in EPOCH_KEYS))
                )
        with self.transaction() as connection:
            connection.execute("DELETE FROM epochs WHERE run = ?", (name,))
            connection.executemany(
                f"INSERT INTO epochs (run, {', '.join(EPOCH_KEYS)}) "
                f"VALUES (?, {', '.join('?' for _ in EPOCH_KEYS)})",
                rows,
            )
            updated = connection.execute(
                "UPDATE runs SET status = ?, started_at = ?, finished_at = ?, seconds = ?, "
                "cpu_seconds = ?, metrics = ?, error = ?, traceback = ?, worker = ? WHERE name = ?",
                (
                    status,
                    started_at,
                    finished_at,
                    seconds,
                    cpu_seconds,
                    None if metrics is None else _dumps(metrics),
                    error,
                    traceback,
                    worker,
                    name,
                ),
            ).rowcount
            if updated != 1:
                raise KeyError(f"no run named {name!r} in {self.path}")

    def history(self, name: str) -> dict[str, list[float | None]]:
        """One run's per-epoch History columns (empty lists for a run without epochs)."""
        cursor = self.connection.execute(
            f"SELECT {', '.join(EPOCH_KEYS)} FROM epochs WHERE run = ? ORDER BY epoch", (name,)
        )
        rows = cursor.fetchall()
        return {key: [row[index] for row in rows] for index, key in enumerate(EPOCH_KEYS)}

    def histories(self) -> dict[str, dict[str, list[float | None]]]:
        """Every run's history, by run name, in grid order."""
        return {record.name: self.history(record.name) for record in self.runs()}


def _set_meta(connection: sqlite3.Connection, values: dict[str, str]) -> None:
    connection.executemany(
        "INSERT INTO meta (key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        list(values.items()),
    )


def _add_runs(connection: sqlite3.Connection, runs: Iterable[dict[str, Any]]) -> None:
    rows = [
        (
            run["name"],
            run["position"],
            _dumps(run["factors"]),
            _dumps(run["overrides"]),
            _dumps(run.get("source", run["recipe"])),
            _dumps(run["recipe"]),
            run["directory"],
        )
        for run in runs
    ]
    connection.executemany(
        "INSERT INTO runs (name, position, factors, overrides, source, recipe, directory) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        rows,
    )


def _connect(path: Path, readonly: bool = False) -> sqlite3.Connection:
    """A connection to ``path``: read-only, or a writer's (WAL). A file SQLite cannot open
    raises :class:`SweepStoreError`; one that is not a database, ``ValueError``."""
    connection = None
    try:
        if readonly:
            return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        connection = sqlite3.connect(path, timeout=30.0)
        connection.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a committed transaction survives the process being killed (only
        # a power cut could lose the last commits), at a fraction of FULL's fsyncs.
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute("PRAGMA foreign_keys=ON")
        return connection
    except sqlite3.DatabaseError as error:
        if connection is not None:
            connection.close()
        if isinstance(error, sqlite3.OperationalError):  # cannot open, read-only, I/O error
            raise SweepStoreError(path, error, "open") from None
        raise ValueError(f"{path} is not a chainrule sweep store: {error}") from None


def _writer_lock(path: Path) -> WriterLock:
    """The writer lock of the store at ``path`` (``sweep.lock`` beside ``sweep.sqlite``)."""
    return WriterLock.acquire(path.with_suffix(LOCK_SUFFIX), f"the sweep in {path.parent}")


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=False, default=_json_default)


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} in the sweep store: {value!r}")


def _real(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _record(row: dict[str, Any]) -> RunRecord:
    for key in ("factors", "overrides", "source", "recipe", "metrics"):
        if row[key] is not None:
            row[key] = json.loads(row[key])
    return RunRecord(**row)
