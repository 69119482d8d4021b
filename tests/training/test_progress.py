"""ProgressBar: a live bar in a terminal, one plain line per epoch in logs, nothing when off.

A rich ``Console`` writing to a ``StringIO`` stands in for the screen: ``force_terminal`` picks
which of the two behaviours the bar shows (``force_jupyter`` a notebook's); one test runs a
real Jupyter kernel.
"""

import importlib.util
import io
import json
import re

import numpy as np
import pytest
from rich.console import Console

from chainrule.nn.layers import Dense, ReLU, Softmax
from chainrule.nn.model import Sequential
from chainrule.nn.optim import SGD
from chainrule.training import progress
from chainrule.training.progress import ProgressBar
from chainrule.training.trainer import Trainer


def blobs(n, seed):
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n) % 3)
    return 4.0 * np.eye(3, 5)[y] + rng.normal(size=(n, 5)), y


def fit(epochs=3, validation=False, **trainer_options):
    model = Sequential(
        [Dense(8), ReLU(), Dense(3), Softmax()],
        loss="categorical_crossentropy",
        input_shape=(5,),
        seed=0,
    )
    trainer = Trainer(model, SGD(0.1), epochs=epochs, **trainer_options)
    x, y = blobs(200, seed=0)
    return trainer.fit(x, y, validation_data=blobs(60, seed=1) if validation else None)


def test_outside_a_terminal_it_prints_one_line_per_epoch():
    """In logs and CI: epoch i/n, the epoch's loss and accuracy to 4 decimals, and its time."""
    screen = io.StringIO()
    bar = ProgressBar(Console(file=screen, force_terminal=False))
    history = fit(epochs=3, callbacks=[bar], progress=False)

    lines = screen.getvalue().splitlines()
    assert len(lines) == 3
    for epoch, line in enumerate(lines, start=1):
        assert line.startswith(f"epoch {epoch}/3")
        assert f"loss {history['train_loss'][epoch - 1]:.4f}" in line
        assert f"acc {history['train_accuracy'][epoch - 1]:.4f}" in line
        assert line.endswith(" s)")


def test_with_validation_data_the_line_shows_validation_too():
    screen = io.StringIO()
    bar = ProgressBar(Console(file=screen, force_terminal=False))
    history = fit(epochs=2, validation=True, callbacks=[bar], progress=False)

    lines = screen.getvalue().splitlines()
    assert len(lines) == 2
    assert f"val_loss {history['val_loss'][-1]:.4f}" in lines[-1]
    assert f"val_acc {history['val_accuracy'][-1]:.4f}" in lines[-1]


def test_in_a_terminal_it_draws_a_live_bar():
    screen = io.StringIO()
    bar = ProgressBar(Console(file=screen, force_terminal=True, width=120))
    assert bar.live
    fit(epochs=2, callbacks=[bar], progress=False)
    output = screen.getvalue()
    assert "epoch 1/2" in output
    assert "epoch 2/2" in output


def test_progress_is_on_by_default_and_writes_to_stdout(capsys):
    fit(epochs=2)
    out = capsys.readouterr().out
    assert "epoch 1/2" in out
    assert "epoch 2/2" in out


def test_progress_false_prints_nothing(capsys):
    fit(epochs=2, progress=False)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == ""


def test_a_new_bar_has_its_whole_state_and_each_run_starts_it_afresh():
    screen = io.StringIO()
    bar = ProgressBar(Console(file=screen, force_terminal=True, width=120))
    assert (bar.epochs, bar.progress, bar.task, bar.every, bar.steps_in_epoch) == (
        0,
        None,
        None,
        1,
        0,
    )
    fit(epochs=2, callbacks=[bar], progress=False)
    first = bar.progress
    assert bar.epochs == 2 and first is not None and bar.task is not None
    fit(epochs=1, callbacks=[bar], progress=False)
    assert bar.epochs == 1 and bar.progress is not first
    assert "epoch 1/1" in screen.getvalue()


def test_in_jupyter_it_draws_live_only_where_rich_can(monkeypatch):
    """rich's live bar in a notebook needs ipywidgets; without it rich shows nothing but a
    warning, so the bar prints its epoch lines instead."""
    notebook = Console(file=io.StringIO(), force_jupyter=True)
    monkeypatch.setattr(progress, "jupyter_widgets", lambda: True)
    assert ProgressBar(notebook).live
    monkeypatch.setattr(progress, "jupyter_widgets", lambda: False)
    assert not ProgressBar(notebook).live
    assert ProgressBar(Console(file=io.StringIO(), force_terminal=True)).live  # a terminal
    assert progress.jupyter_widgets() is (importlib.util.find_spec("ipywidgets") is not None)


NOTEBOOK_CELL = """
import numpy as np
from chainrule.nn.layers import Dense, ReLU, Softmax
from chainrule.nn.model import Sequential
from chainrule.nn.optim import SGD
from chainrule.training.trainer import Trainer
rng = np.random.default_rng(0)
y = rng.permutation(np.arange(200) % 3)
x = 4.0 * np.eye(3, 5)[y] + rng.normal(size=(200, 5))
model = Sequential([Dense(8), ReLU(), Dense(3), Softmax()], loss="categorical_crossentropy",
                   input_shape=(5,), seed=0)
history = Trainer(model, SGD(0.1), epochs=2).fit(x, y)
"""


def test_in_a_real_jupyter_kernel_fit_shows_its_progress():
    """The cell's outputs, as a notebook stores them, hold the progress: a live bar's
    widget (with ipywidgets) or both epoch lines (without), and no warning."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(NOTEBOOK_CELL)])
    nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    outputs = notebook.cells[0].outputs
    shown = json.dumps(outputs)
    assert "Warning" not in shown and "Traceback" not in shown
    if progress.jupyter_widgets():
        assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)
    else:
        text = "".join(o.get("data", {}).get("text/plain", "") for o in outputs)
        assert re.findall(r"epoch (\d)/2  loss", text) == ["1", "2"]
