"""Where runs execute: one run in a worker, BLAS threads, the local process pool."""

from __future__ import annotations

import os

import pytest
from threadpoolctl import threadpool_info

from chainrule.app.recipes import parse_recipe
from chainrule.sweep.executor import (
    RunTask,
    blas_threads,
    open_executor,
    run_point,
    single_blas_thread,
)


def task(tiny_base, directory, **data):
    raw = tiny_base(epochs=2)
    raw["data"].update(data)
    recipe = parse_recipe(raw).model_dump(mode="json")
    return RunTask(name="one", recipe=recipe, directory=str(directory), figures=False)


def test_a_run_clears_its_half_written_directory_and_reports_metrics(tiny_base, tmp_path):
    directory = tmp_path / "one"
    directory.mkdir()
    (directory / "history.csv").write_text("left from a killed attempt")
    outcome = run_point(task(tiny_base, directory))
    assert outcome.status == "finished", outcome.traceback
    assert outcome.metrics["epochs_run"] == 2
    assert outcome.history["epoch"] == [1, 2]
    assert (directory / "metrics.json").is_file()
    assert "killed" not in (directory / "history.csv").read_text()
    assert outcome.finished_at >= outcome.started_at


def test_a_failing_run_comes_back_as_an_outcome_not_an_exception(tiny_base, tmp_path):
    outcome = run_point(task(tiny_base, tmp_path / "bad", binary_target=42))
    assert outcome.status == "failed"
    assert outcome.error.startswith("ValueError: data.binary_target: class 42 does not exist")
    assert outcome.traceback.startswith("Traceback (most recent call last)")
    assert outcome.metrics is None


def _blas_caps() -> list[int]:
    return [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]


def test_single_blas_thread_is_reference_counted():
    before = _blas_caps()
    with single_blas_thread():
        with single_blas_thread():
            assert set(_blas_caps()) <= {1}
        assert set(_blas_caps()) <= {1}  # the inner exit did not restore the old cap
    assert _blas_caps() == before


def test_local_workers_run_with_one_blas_thread():
    with open_executor(workers=2, runs=5) as info:
        assert (info.slots, info.description) == (2, "2 local processes")
        assert info.executor.submit(os.getenv, "OMP_NUM_THREADS").result() == "1"
        assert set(info.executor.submit(blas_threads).result().values()) == {1}
    with open_executor(workers=8, runs=1) as info:
        assert info.slots == 1  # never more processes than runs


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"workers": 0}, "workers must be an integer >= 1, got 0"),
        ({"scheduler": ""}, "scheduler is a Dask scheduler address"),
    ],
)
def test_executor_errors(arguments, message):
    pytest.importorskip("distributed")
    with pytest.raises(ValueError, match=message), open_executor(**arguments):
        pass
