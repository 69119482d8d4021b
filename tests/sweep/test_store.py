"""The SQLite record of a sweep: runs, statuses, results and histories."""

from __future__ import annotations

import os
import sqlite3

import pytest

from chainrule.sweep.lock import SweepLocked
from chainrule.sweep.store import SweepStore, SweepStoreError

HISTORY = {
    "epoch": [1, 2],
    "train_loss": [0.9, 0.5],
    "train_accuracy": [0.6, 0.8],
    "val_loss": [1.0, 0.7],
    "val_accuracy": [0.55, 0.75],
    "learning_rate": [0.01, 0.01],
    "seconds": [0.2, 0.21],
}


def run(name, position):
    return {
        "name": name,
        "position": position,
        "factors": {"model.activation": name},
        "overrides": {"model.activation": name},
        "recipe": {"model": {"activation": name}},
        "directory": f"runs/{name}",
    }


@pytest.fixture
def store(tmp_path):
    with SweepStore.create(tmp_path / "sweep.sqlite") as store:
        store.add_runs([run("relu", 0), run("tanh", 1)])
        yield store


def test_runs_start_pending_in_grid_order(store):
    assert [(r.name, r.status, r.attempts) for r in store.runs()] == [
        ("relu", "pending", 0),
        ("tanh", "pending", 0),
    ]
    assert store.counts() == {"pending": 2, "running": 0, "finished": 0, "failed": 0}
    assert store.connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_result_is_stored_with_its_history(store):
    store.mark_running("relu", queued_at=100.0)
    metrics = {"test_accuracy": 0.9, "val_accuracy": 0.75, "epochs_run": 2}
    store.record_result(
        "relu",
        status="finished",
        started_at=101.0,
        finished_at=103.5,
        metrics=metrics,
        history=HISTORY,
        worker="host:1",
    )
    record = store.run("relu")
    assert (record.status, record.attempts, record.seconds) == ("finished", 1, 2.5)
    assert record.metrics == metrics and record.metric("test_accuracy") == 0.9
    assert record.recipe == {"model": {"activation": "relu"}}
    assert store.history("relu") == HISTORY
    assert store.history("tanh")["epoch"] == []


def test_a_failure_keeps_its_traceback_and_a_rerun_clears_it(store):
    store.mark_running("tanh")
    store.record_result("tanh", status="failed", error="ValueError: no", traceback="Trace...")
    failed = store.run("tanh")
    assert (failed.status, failed.error, failed.traceback) == (
        "failed",
        "ValueError: no",
        "Trace...",
    )
    store.mark_running("tanh")
    again = store.run("tanh")
    assert (again.status, again.attempts, again.error) == ("running", 2, None)
    store.mark_pending(["tanh"])
    assert store.run("tanh").status == "pending"


def test_readers_open_it_read_only(store, tmp_path):
    store.set_meta({"name": "demo"})
    with SweepStore.open(tmp_path / "sweep.sqlite", readonly=True) as reader:
        assert reader.meta("name") == "demo"
        assert len(reader.runs()) == 2
        with pytest.raises(SweepStoreError, match="attempt to write a readonly database"):
            reader.set_meta({"name": "other"})


def test_errors(store, tmp_path):
    with pytest.raises(ValueError, match="'finished' or 'failed'"):
        store.record_result("relu", status="done")
    with pytest.raises(KeyError, match="no run named 'gelu'"):
        store.record_result("gelu", status="failed")
    with pytest.raises(FileNotFoundError, match="sweep store not found"):
        SweepStore.open(tmp_path / "missing.sqlite")
    store.close()
    with pytest.raises(ValueError, match="already exists"):
        SweepStore.create(tmp_path / "sweep.sqlite")
    (tmp_path / "junk.sqlite").write_text("not a database")
    with pytest.raises(ValueError, match="not a chainrule sweep store"):
        SweepStore.open(tmp_path / "junk.sqlite")


# -- one writer ------------------------------------------------------------------------------
def test_a_second_writer_is_refused_naming_the_holder_and_readers_are_not(store, tmp_path):
    path = tmp_path / "sweep.sqlite"
    for second in (lambda: SweepStore.open(path), lambda: SweepStore.create(path)):
        with pytest.raises(SweepLocked, match=rf"being written by another sweep \(process "
                                              rf"{os.getpid()}, lock .*sweep.lock\)"):  # fmt: skip
            second()
    with SweepStore.open(path, readonly=True) as reader:  # compare on a running sweep
        assert len(reader.runs()) == 2
    assert (tmp_path / "sweep.lock").read_text() == f"{os.getpid()}\n"
    store.close()  # the lock goes with the store
    with SweepStore.open(path) as writer:
        writer.set_meta({"name": "resumed"})


def test_a_failed_opening_leaves_the_lock_free(tmp_path):
    (tmp_path / "junk.sqlite").write_text("not a database")
    for _ in range(2):  # the first refusal did not keep the lock
        with pytest.raises(ValueError, match="not a chainrule sweep store"):
            SweepStore.open(tmp_path / "junk.sqlite")


# -- writes the disk refuses -------------------------------------------------------------------
def test_a_full_disk_is_one_line_naming_the_file_and_keeps_what_was_committed(store, tmp_path):
    store.mark_running("relu")
    store.record_result("relu", status="finished", metrics={"test_accuracy": 0.9})
    pages = store.connection.execute("PRAGMA page_count").fetchone()[0]
    store.connection.execute(f"PRAGMA max_page_count = {pages}")  # the disk is now full
    store.mark_running("tanh")
    with pytest.raises(SweepStoreError) as caught:
        store.record_result("tanh", status="failed", error="x", traceback="y" * 100_000)
    message = str(caught.value)
    assert message.startswith(f"cannot write the sweep store {tmp_path / 'sweep.sqlite'}: ")
    assert "database or disk is full" in message and "\n" not in message
    assert isinstance(caught.value, OSError)  # the CLI's one-line error, exit 2
    assert store.run("relu").metric("test_accuracy") == 0.9  # the commit before is kept
    assert store.run("tanh").status == "running"  # the refused write was rolled back
    assert store.run("tanh").traceback is None


def test_a_store_that_cannot_be_opened_says_so(tmp_path, monkeypatch):
    def refuse(*args, **keys):
        raise sqlite3.OperationalError("unable to open database file")

    monkeypatch.setattr(sqlite3, "connect", refuse)
    with pytest.raises(SweepStoreError, match=r"cannot open the sweep store .*new.sqlite: unable"):
        SweepStore.create(tmp_path / "new.sqlite")
    with pytest.raises(SweepStoreError):  # the lock was released with the failure
        SweepStore.create(tmp_path / "new.sqlite")
