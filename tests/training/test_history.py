"""History: one list per epoch key, the loss of every step, and their CSV files."""

import base64
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from chainrule.training.history import EPOCH_KEYS, KERAS_NAMES, History


def logged(epochs, validation=True, seed=0):
    """A History of ``epochs`` epochs with made-up numbers, as ``Trainer.fit`` appends them."""
    rng = np.random.default_rng(seed)
    history = History()
    for epoch in range(1, epochs + 1):
        logs = {"epoch": epoch, "train_loss": rng.uniform(0, 2), "learning_rate": 0.1 / epoch,
                "train_accuracy": rng.uniform(), "seconds": rng.uniform(0, 5)}  # fmt: skip
        if validation:
            logs.update(val_loss=rng.uniform(0, 2), val_accuracy=rng.uniform())
        history.append(logs)
        history.step_loss += rng.uniform(0, 2, size=3).tolist()
    return history


def test_every_key_gets_one_entry_per_epoch_none_where_not_measured():
    history = logged(3, validation=False)
    assert len(history) == 3
    assert set(history.to_dict()) == set(EPOCH_KEYS)
    assert {len(values) for values in history.to_dict().values()} == {3}
    assert history["val_loss"] == [None, None, None]
    assert history.last()["epoch"] == 3
    assert History().last() == {}


def test_to_dict_is_a_copy():
    history = logged(2)
    copy = history.to_dict()
    copy["epoch"].append(99)
    assert history["epoch"] == [1, 2]


def test_history_round_trips_through_csv(tmp_path):
    """to_csv writes atomically (no temporary file left behind); from_csv reads it back."""
    history = logged(3)
    path = tmp_path / "history.csv"
    history.to_csv(path)

    assert [p.name for p in tmp_path.iterdir()] == ["history.csv"]
    assert path.read_text().splitlines()[0] == ",".join(EPOCH_KEYS)
    loaded = History.from_csv(path)
    assert len(loaded) == 3
    for key in EPOCH_KEYS:
        np.testing.assert_allclose(loaded[key], history[key], rtol=1e-9, err_msg=key)


def test_missing_values_round_trip_as_none(tmp_path):
    logged(2, validation=False).to_csv(tmp_path / "history.csv")
    loaded = History.from_csv(tmp_path / "history.csv")
    assert loaded["val_loss"] == [None, None]
    assert loaded["val_accuracy"] == [None, None]


def test_steps_csv_has_one_numbered_line_per_step(tmp_path):
    history = logged(2)
    history.steps_to_csv(tmp_path / "steps.csv")
    header, *lines = (tmp_path / "steps.csv").read_text().splitlines()
    assert header == "step,loss"
    assert [int(line.split(",")[0]) for line in lines] == list(range(1, 7))
    np.testing.assert_allclose([float(line.split(",")[1]) for line in lines], history.step_loss)


def test_keras_names_read_the_same_lists():
    """``history.history["loss"]`` and friends, as a Keras tutorial writes them."""
    history = logged(3)
    keras = history.history
    assert list(keras) == ["loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"]
    for ours, theirs in KERAS_NAMES.items():
        assert keras[theirs] == history[ours]
    assert keras["loss"] == history["train_loss"]
    assert history.epoch == [0, 1, 2]  # Keras counts epochs from 0; history["epoch"] from 1
    assert history["epoch"] == [1, 2, 3]


def test_keras_names_hold_only_what_was_measured():
    keras = logged(2, validation=False).history
    assert set(keras) == {"loss", "accuracy", "learning_rate"}
    assert History().history == {} and History().epoch == []


def test_the_keras_view_is_read_only():
    history = logged(2)
    history.history["loss"].append(99.0)
    history.history.pop("val_loss")
    assert len(history["train_loss"]) == 2
    assert "val_loss" in history.history
    with pytest.raises(AttributeError):
        history.history = {}


def test_the_keras_view_reads_a_history_loaded_from_csv(tmp_path):
    """Epochs read back as floats from the CSV still count as Keras's integers."""
    logged(3).to_csv(tmp_path / "history.csv")
    loaded = History.from_csv(tmp_path / "history.csv")
    assert loaded.epoch == [0, 1, 2] and all(type(e) is int for e in loaded.epoch)
    np.testing.assert_allclose(loaded.history["val_accuracy"], logged(3)["val_accuracy"])


# -- display -----------------------------------------------------------------------------------
def chart_series(image: str) -> list[int]:
    """The number of points of each line in an ``<img>`` of an SVG chart."""
    svg = base64.b64decode(re.search(r"base64,([^\"]+)", image).group(1)).decode()
    root = ET.fromstring(svg)
    lines = root.iter("{http://www.w3.org/2000/svg}polyline")
    return [len(line.get("points").split()) for line in lines]


def test_repr_is_one_short_line_with_the_last_epoch():
    history = logged(12)
    last = history.last()
    assert repr(history) == (
        f"History(12 epochs, last: train_loss {last['train_loss']:.4g}, train_accuracy "
        f"{last['train_accuracy']:.4g}, val_loss {last['val_loss']:.4g}, val_accuracy "
        f"{last['val_accuracy']:.4g})"
    )
    assert repr(History()) == "History(no epochs)"


def test_a_notebook_shows_the_curves_and_the_table(html_text):
    history = logged(4)
    page = history._repr_html_()
    text = html_text(page)
    images = re.findall(r'<img src="data:image/svg\+xml;base64,[^"]+" alt="[^"]+">', page)
    assert [re.search(r'alt="([^"]+)"', image).group(1) for image in images] == [
        "loss per epoch",
        "accuracy per epoch",
    ]
    assert [chart_series(image) for image in images] == [[4, 4], [4, 4]]  # train, validation
    assert "epoch train_loss train_accuracy val_loss val_accuracy learning_rate seconds" in text
    assert f"4 {history['train_loss'][3]:.6g} " in text  # epoch 4's row, as logged


def test_without_validation_only_the_training_curve_and_its_columns():
    history = logged(3, validation=False)
    page = history._repr_html_()
    images = re.findall(r'<img src="data:image/svg\+xml;base64,[^"]+"', page)
    assert [chart_series(image) for image in images] == [[3], [3]]
    assert "val_loss" not in page and "val_accuracy" not in page
    assert "no epochs" in History()._repr_html_()
