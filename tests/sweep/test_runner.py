"""Real sweeps on the digits fixture: local processes, a Dask cluster, failures, kill + resume."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import Executor, Future
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest
import yaml

from chainrule.sweep import SweepStore, run_sweep
from chainrule.sweep.executor import ExecutorInfo

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_every_point_becomes_a_run_directory_and_a_stored_result(local_sweep):
    assert (local_sweep.total, local_sweep.finished, local_sweep.failed) == (4, 2, 2)
    assert local_sweep.executor == "2 local processes"
    with SweepStore.open(local_sweep.store, readonly=True) as store:
        records = {record.name: record for record in store.runs()}
        assert list(records) == ["ok-relu", "ok-tanh", "broken-relu", "broken-tanh"]
        for name in ("ok-relu", "ok-tanh"):
            record = records[name]
            run_dir = local_sweep.directory / record.directory
            on_disk = json.loads((run_dir / "metrics.json").read_text())
            assert record.metrics["test_accuracy"] == on_disk["test_accuracy"]
            assert record.recipe["model"]["activation"] == name.split("-")[1]
            assert store.history(name)["epoch"] == [1, 2, 3]
            assert record.seconds > 0 and record.worker and record.attempts == 1
    assert (local_sweep.directory / "grid.yaml").is_file()
    assert local_sweep.best.name in ("ok-relu", "ok-tanh")
    assert local_sweep.metric == "val_accuracy"


def test_a_failing_run_is_recorded_with_its_traceback_and_the_others_go_on(local_sweep):
    with SweepStore.open(local_sweep.store, readonly=True) as store:
        failed = store.run("broken-tanh")
    assert failed.status == "failed"
    assert failed.error.startswith("ValueError: data.binary_target: class 99 does not exist")
    assert "Traceback (most recent call last)" in failed.traceback
    assert "prepare_data" in failed.traceback
    assert set(local_sweep.failures) == {"broken-relu", "broken-tanh"}
    assert "broken-tanh" in local_sweep.text()


def test_a_dask_cluster_gives_the_same_results(local_sweep, mixed_grid, tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=False,
        dashboard_address=None,
        host="127.0.0.1",
        protocol="tcp://",  # a real TCP scheduler on loopback, reached by its address
    ) as cluster:
        summary = run_sweep(
            mixed_grid,
            out_dir=tmp_path / "dask",
            scheduler=cluster.scheduler_address,
            progress=False,
            figures=False,
        )
    assert summary.executor.startswith("Dask cluster at tcp://127.0.0.1")
    assert (summary.finished, summary.failed) == (2, 2)
    with (
        SweepStore.open(local_sweep.store, readonly=True) as local,
        SweepStore.open(summary.store, readonly=True) as dask,
    ):
        for mine, theirs in zip(local.runs(), dask.runs(), strict=True):
            assert (mine.name, mine.status, mine.error) == (
                theirs.name,
                theirs.status,
                theirs.error,
            )
            for key in ("test_accuracy", "test_loss", "val_accuracy", "val_loss"):
                assert mine.metric(key) == theirs.metric(key)
            assert local.history(mine.name)["train_loss"] == dask.history(mine.name)["train_loss"]


def test_an_existing_sweep_needs_resume_and_the_same_grid(local_sweep, mixed_grid, tmp_path):
    with pytest.raises(ValueError, match="already holds a sweep.*resume"):
        run_sweep(mixed_grid, out_dir=local_sweep.directory, progress=False)

    changed = tmp_path / "mixed.yaml"
    changed.write_text(mixed_grid.read_text() + "\n# edited\n")
    with pytest.raises(ValueError, match="grid file .* has changed since the sweep"):
        run_sweep(changed, out_dir=local_sweep.directory, resume=True, progress=False)
    with pytest.raises(ValueError, match="recipes of 4 run\\(s\\) differ"):
        run_sweep(mixed_grid, out_dir=local_sweep.directory, resume=True, epochs=1, progress=False)

    (tmp_path / "occupied").mkdir()
    (tmp_path / "occupied" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not empty and holds no sweep"):
        run_sweep(mixed_grid, out_dir=tmp_path / "occupied", progress=False)


def test_a_bad_grid_fails_before_anything_runs(tiny_base, write_grid, tmp_path):
    grid = write_grid(
        "bad",
        {"base": tiny_base(), "axes": {"model.init": ["he_normal", "he_magic"]}},
    )
    with pytest.raises(ValueError, match="axis 'model.init' value 'he_magic'"):
        run_sweep(grid, out_dir=tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def test_a_missing_dataset_fails_before_anything_runs(tiny_base, write_grid, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # an empty user cache
    grid = write_grid("kmnist", {"base": tiny_base(), "axes": {"seed": [0, 1]}})
    with pytest.raises(FileNotFoundError, match="Dataset 'kmnist' .* was not found"):
        run_sweep(grid, out_dir=tmp_path / "out", overrides=["data.dataset=kmnist"],
                  data_dir=tmp_path, download=False, progress=False)  # fmt: skip
    assert not (tmp_path / "out").exists()


_SWEEP_SCRIPT = """
import sys
from chainrule.sweep import run_sweep
run_sweep(sys.argv[1], out_dir=sys.argv[2], workers=1, progress=False, figures=False)
"""


def test_a_killed_sweep_resumes_with_every_run_recorded_once(tiny_base, write_grid, tmp_path):
    grid = write_grid("seeds", {"base": tiny_base(epochs=4), "axes": {"seed": [0, 1, 2, 3, 4]}})
    out = tmp_path / "sweep"
    repo = Path(__file__).resolve().parents[2]
    process = subprocess.Popen(
        [sys.executable, "-c", _SWEEP_SCRIPT, str(grid), str(out)],
        cwd=repo,
        start_new_session=True,  # its own process group: the kill takes its workers too
    )
    try:
        deadline = time.monotonic() + 60
        while _finished(out) < 1:
            assert process.poll() is None, "the sweep ended before it could be killed"
            assert time.monotonic() < deadline, "no run finished within 60 s"
            time.sleep(0.02)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    with SweepStore.open(out / "sweep.sqlite", readonly=True) as store:
        before = {record.name: record.status for record in store.runs()}
    done_before = [name for name, status in before.items() if status == "finished"]
    assert 1 <= len(done_before) < 5, before

    summary = run_sweep(grid, out_dir=out, resume=True, workers=2, progress=False, figures=False)
    assert (summary.total, summary.finished, summary.failed) == (5, 5, 0)
    assert summary.skipped == len(done_before)
    with SweepStore.open(summary.store, readonly=True) as store:
        records = store.runs()
        assert [r.name for r in records] == ["0", "1", "2", "3", "4"]
        epochs = store.connection.execute("SELECT run, COUNT(*) FROM epochs GROUP BY run")
        assert dict(epochs.fetchall()) == dict.fromkeys(["0", "1", "2", "3", "4"], 4)
    for record in records:
        assert record.status == "finished"
        assert record.attempts == (
            1 if record.name in done_before else 1 + (before[record.name] == "running")
        )
        run_dir = out / record.directory
        assert json.loads((run_dir / "metrics.json").read_text())["epochs_run"] == 4
        assert yaml.safe_load((run_dir / "recipe.yaml").read_text())["seed"] == int(record.name)


def _finished(out: Path) -> int:
    path = out / "sweep.sqlite"
    if not path.is_file():
        return 0
    try:
        with SweepStore.open(path, readonly=True) as store:
            return store.counts()["finished"]
    except (ValueError, OSError):  # created but not yet initialized
        return 0


def test_ctrl_c_keeps_finished_results_and_resume_finishes(tiny_base, write_grid, tmp_path):
    grid = write_grid("interrupted", {"base": tiny_base(), "axes": {"seed": [0, 1, 2, 3]}})

    def interrupt(record):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(grid, out_dir=tmp_path / "s", workers=2, progress=False, figures=False,
                  on_result=interrupt)  # fmt: skip
    with SweepStore.open(tmp_path / "s" / "sweep.sqlite", readonly=True) as store:
        counts = store.counts()
    assert counts["finished"] == 1 and counts["running"] == 0  # in flight went back to pending
    summary = run_sweep(grid, out_dir=tmp_path / "s", resume=True, progress=False, figures=False)
    assert (summary.finished, summary.skipped) == (4, 1)


class _DyingPool(Executor):
    """Runs in-process, but the worker 'dies' under the runs named in ``dies``: always for
    ``always``, the first time for the others (as a killed process breaks a real pool)."""

    def __init__(self, dies, always, deaths):
        self.dies, self.always, self.deaths = dies, always, deaths

    def submit(self, function, task):
        future = Future()
        died_before = self.deaths.count(task.name)
        if task.name in self.dies and (task.name in self.always or not died_before):
            self.deaths.append(task.name)
            future.set_exception(BrokenProcessPool("a worker process died"))
        else:
            future.set_result(function(task))
        return future


def test_runs_lost_with_a_dying_worker_run_again_then_count_as_failed(
    tiny_base, write_grid, tmp_path, monkeypatch
):
    from chainrule.sweep import runner

    deaths = []

    @contextlib.contextmanager
    def dying_executor(workers, scheduler, runs):
        yield ExecutorInfo(_DyingPool({"1", "2"}, {"2"}, deaths), 1, "a dying pool")

    monkeypatch.setattr(runner, "open_executor", dying_executor)
    grid = write_grid("dying", {"base": tiny_base(epochs=1), "axes": {"seed": [0, 1, 2]}})
    summary = run_sweep(grid, out_dir=tmp_path / "s", progress=False, figures=False)
    assert deaths == ["1", "2", "2"]  # 1 died once, then finished; 2 died at every try
    assert (summary.finished, summary.failed) == (2, 1)
    assert "worker process died 2 times" in summary.failures["2"]


# -- one writer ------------------------------------------------------------------------------
def test_a_second_sweep_on_a_directory_being_written_is_refused(local_sweep, mixed_grid):
    from chainrule.sweep.lock import SweepLocked

    with SweepStore.open(local_sweep.store) as live:  # another sweep writing it
        before = [(r.name, r.attempts) for r in live.runs()]
        with pytest.raises(SweepLocked, match=rf"being written by another sweep \(process "
                                              rf"{os.getpid()}, lock "):  # fmt: skip
            run_sweep(mixed_grid, out_dir=local_sweep.directory, resume=True, progress=False)
        assert [(r.name, r.attempts) for r in live.runs()] == before  # nothing ran again


# -- model selection -------------------------------------------------------------------------
def test_a_grid_ranking_by_the_test_set_is_refused_before_anything_runs(
    tiny_base, write_grid, tmp_path
):
    grid = write_grid("by-test", {"base": tiny_base(), "axes": {"seed": [0, 1]},
                                  "metric": "test_accuracy"})  # fmt: skip
    with pytest.raises(ValueError, match=r"by-test.yaml: metric: 'test_accuracy' would choose the "
                                         r"best run on the test set; rank by val_accuracy"):  # fmt: skip
        run_sweep(grid, out_dir=tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def test_without_validation_data_the_summary_says_the_test_set_chose(
    tiny_base, write_grid, tmp_path
):
    base = tiny_base(epochs=1)
    base["data"]["validation_fraction"] = 0.0
    grid = write_grid("no-val", {"base": base, "variants": {"only": {}}})
    out = tmp_path / "out"
    out.mkdir()
    (out / "sweep.lock").write_text("999999\n")  # left by a writer killed before its store
    summary = run_sweep(grid, out_dir=out, workers=1, progress=False, figures=False)
    assert (summary.finished, summary.metric, summary.best.name) == (1, "test_accuracy", "only")
    assert "note: ranked by test_accuracy (higher is better): no run holds out validation data" in (
        summary.text()
    )
    assert summary.to_dict()["ranking"].endswith("its test score is optimistic")


# -- a store that refuses a write ---------------------------------------------------------------
def test_a_store_write_refused_stops_the_sweep_in_one_line_and_resume_finishes(
    tiny_base, write_grid, tmp_path, monkeypatch
):
    from chainrule.sweep.store import SweepStoreError

    grid = write_grid("read-only", {"base": tiny_base(epochs=1), "axes": {"seed": [0, 1]}})
    record_result = SweepStore.record_result

    def read_only(self, name, **keys):  # the file turns read-only under the sweep
        self.connection.execute("PRAGMA query_only = ON")
        return record_result(self, name, **keys)

    monkeypatch.setattr(SweepStore, "record_result", read_only)
    out = tmp_path / "s"
    with pytest.raises(SweepStoreError) as caught:
        run_sweep(grid, out_dir=out, workers=1, progress=False, figures=False)
    message = str(caught.value)
    assert message.startswith(f"cannot write the sweep store {out / 'sweep.sqlite'}: attempt to "
                              "write a readonly database")  # fmt: skip
    assert "\n" not in message and isinstance(caught.value, OSError)
    monkeypatch.undo()
    summary = run_sweep(grid, out_dir=out, resume=True, workers=1, progress=False, figures=False)
    assert (summary.finished, summary.failed) == (2, 0)  # the lock went with the failed sweep
