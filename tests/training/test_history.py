"""History: one list per epoch key, the loss of every step, and their CSV files."""

import numpy as np

from chainrule.training.history import EPOCH_KEYS, History


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
