"""Callbacks: EarlyStopping driven by hand-made logs, then once inside a real Trainer.

A callback only sees ``trainer.model.params.data`` and ``trainer.stop_training``, so most tests
drive it with a stand-in trainer and a list of logged values: each case reads as a table of
epochs, and no training is needed to know when it must stop.
"""

import math
from types import SimpleNamespace

import numpy as np
import pytest

from chainrule.nn.layers import Dense, ReLU, Softmax
from chainrule.nn.model import Sequential
from chainrule.nn.optim import SGD
from chainrule.training.callbacks import BestValue, Callback, EarlyStopping, Monitor, default_mode
from chainrule.training.trainer import Trainer


def fake_trainer():
    """What a callback may touch: the model's flat parameter buffer and the stop flag."""
    model = SimpleNamespace(params=SimpleNamespace(data=np.zeros(4)))
    return SimpleNamespace(model=model, stop_training=False)


def drive(callback, values, monitor="val_loss"):
    """Run ``values`` through the callback as consecutive epochs, like Trainer.fit does.

    Before each epoch's logs, the parameters are set to the epoch number, so the restored
    parameters tell which epoch they were copied from. Returns the epochs actually run.
    """
    trainer = fake_trainer()
    callback.on_train_begin(trainer)
    epochs_run = 0
    for epoch, value in enumerate(values):
        trainer.model.params.data[:] = epoch
        callback.on_epoch_end(epoch, {"train_loss": 1.0, monitor: value}, trainer)
        epochs_run += 1
        if trainer.stop_training:
            break
    callback.on_train_end(trainer)
    return trainer, epochs_run


def test_stops_after_patience_epochs_without_improvement():
    """Best at epoch 1; epochs 2, 3 and 4 do not beat it, so patience 3 stops at epoch 4."""
    stopper = EarlyStopping(patience=3)
    trainer, epochs_run = drive(stopper, [1.0, 0.8, 0.9, 0.85, 0.95, 0.1, 0.1])
    assert trainer.stop_training
    assert epochs_run == 5
    assert (stopper.best_epoch, stopper.stopped_epoch) == (1, 4)


def test_an_improvement_resets_the_wait():
    stopper = EarlyStopping(patience=2)
    trainer, epochs_run = drive(stopper, [1.0, 1.1, 0.9, 1.0, 0.8, 0.85])
    assert not trainer.stop_training
    assert epochs_run == 6
    assert stopper.best_epoch == 4


def test_min_delta_counts_only_large_enough_improvements():
    """With min_delta 0.1 the best of 1.0 is only beaten by a value below 0.9."""
    values = [1.0, 0.95, 0.92, 0.85]
    _, epochs_run = drive(EarlyStopping(patience=2, min_delta=0.1), values)
    assert epochs_run == 3  # 0.95 and 0.92 are no improvement: stop before 0.85
    stopper = EarlyStopping(patience=2, min_delta=0.0)
    _, epochs_run = drive(stopper, values)
    assert (epochs_run, stopper.best_epoch) == (4, 3)


def test_restores_the_parameters_of_the_best_epoch():
    """The model ends with the best epoch's parameters, not the last epoch's."""
    trainer, _ = drive(EarlyStopping(patience=2), [1.0, 0.5, 0.7, 0.6])
    np.testing.assert_array_equal(trainer.model.params.data, np.full(4, 1.0))


def test_restores_the_best_parameters_even_without_stopping():
    trainer, epochs_run = drive(EarlyStopping(patience=5), [1.0, 0.5, 0.7])
    assert epochs_run == 3
    np.testing.assert_array_equal(trainer.model.params.data, np.full(4, 1.0))


def test_restore_best_weights_false_keeps_the_last_parameters():
    trainer, _ = drive(EarlyStopping(patience=2, restore_best_weights=False), [1.0, 0.5, 0.7, 0.6])
    np.testing.assert_array_equal(trainer.model.params.data, np.full(4, 3.0))


def test_the_snapshot_is_a_copy_not_a_view():
    """Training keeps writing into the same buffer; the kept best must not follow it."""
    stopper = EarlyStopping(patience=3)
    trainer = fake_trainer()
    stopper.on_train_begin(trainer)
    trainer.model.params.data[:] = 5.0
    stopper.on_epoch_end(0, {"val_loss": 1.0}, trainer)
    trainer.model.params.data[:] = -1.0
    stopper.on_train_end(trainer)
    np.testing.assert_array_equal(trainer.model.params.data, np.full(4, 5.0))


def test_an_accuracy_is_better_when_higher():
    stopper = EarlyStopping(monitor="val_accuracy", patience=2)
    trainer, epochs_run = drive(stopper, [0.5, 0.7, 0.6, 0.65, 0.9], monitor="val_accuracy")
    assert epochs_run == 4
    assert stopper.best_epoch == 1
    np.testing.assert_array_equal(trainer.model.params.data, np.full(4, 1.0))


def test_an_explicit_mode_overrides_the_default_from_the_name():
    """The default follows the name (max for accuracies, min otherwise); ``mode`` says it."""
    assert EarlyStopping(monitor="val_accuracy").monitor.mode == "max"
    assert EarlyStopping(monitor="val_loss").monitor.mode == "min"
    # a quantity whose name says nothing: the margin of a (made-up) logged score, higher better
    stopper = EarlyStopping(monitor="val_margin", patience=2, mode="max")
    _, epochs_run = drive(stopper, [0.5, 0.7, 0.6, 0.65, 0.9], monitor="val_margin")
    assert (epochs_run, stopper.best_epoch) == (4, 1)
    lower = EarlyStopping(monitor="val_accuracy", patience=2, mode="min")
    _, epochs_run = drive(lower, [0.5, 0.7, 0.6, 0.65, 0.9], monitor="val_accuracy")
    assert (epochs_run, lower.best_epoch) == (3, 0)


@pytest.mark.parametrize(
    ("mode", "values", "improvements"),
    [
        ("min", [3.0, 2.0, 2.5, math.nan, 1.0], [True, True, False, False, True]),
        ("max", [3.0, 2.0, 4.0, math.nan, 4.0], [True, False, True, False, False]),
    ],
)
def test_best_value_tracks_the_best_in_its_mode(mode, values, improvements):
    best = BestValue(mode)
    assert [best.update(value) for value in values] == improvements
    assert best.best == (min if mode == "min" else max)(v for v in values if not math.isnan(v))
    best.reset()
    assert best.best == (math.inf if mode == "min" else -math.inf)


def test_early_stopping_has_its_whole_state_before_training():
    """Every attribute exists from construction, so a checkpoint taken before ``fit`` works;
    ``on_train_begin`` starts the same state afresh for each run."""
    stopper = EarlyStopping(patience=2)
    fresh = stopper.state_dict()
    assert fresh == ({}, {"best": math.inf, "wait": 0, "best_epoch": None, "stopped_epoch": None})
    drive(stopper, [1.0, 2.0, 3.0])
    assert stopper.state_dict()[1]["stopped_epoch"] == 2
    stopper.on_train_begin(fake_trainer())
    assert stopper.state_dict() == fresh


def test_a_monitor_derives_its_default_mode_once():
    assert [default_mode(n) for n in ("val_accuracy", "train_acc", "val_loss")] == [
        "max",
        "max",
        "min",
    ]
    assert Monitor("val_accuracy", 0.0, "test").mode == "max"
    assert Monitor("val_accuracy", 0.0, "test", mode="min").mode == "min"


def test_a_new_fit_starts_from_scratch():
    """on_train_begin resets the best value and the wait, so one callback serves many fits."""
    stopper = EarlyStopping(patience=1)
    drive(stopper, [0.1, 0.2])
    _, epochs_run = drive(stopper, [1.0, 0.9, 0.8])
    assert epochs_run == 3
    assert stopper.best_epoch == 2


def test_monitoring_val_loss_without_validation_data_says_so():
    stopper = EarlyStopping(monitor="val_loss")
    trainer = fake_trainer()
    stopper.on_train_begin(trainer)
    logs = {"epoch": 1, "train_loss": 0.5, "val_loss": None}
    with pytest.raises(ValueError, match=r"'val_loss' \(it needs a validation split\)"):
        stopper.on_epoch_end(0, logs, trainer)


def test_an_unknown_quantity_lists_what_was_logged():
    stopper = EarlyStopping(monitor="train_los")
    trainer = fake_trainer()
    stopper.on_train_begin(trainer)
    with pytest.raises(ValueError, match="cannot monitor 'train_los'; logged: train_loss"):
        stopper.on_epoch_end(0, {"train_loss": 0.5}, trainer)


def test_a_diverged_nan_loss_counts_as_no_improvement():
    """A learning rate too large makes the loss overflow to NaN: that is when stopping matters."""
    stopper = EarlyStopping(patience=2)
    trainer, epochs_run = drive(stopper, [1.0, 5.0, math.nan, math.nan])
    assert trainer.stop_training
    assert epochs_run == 3
    np.testing.assert_array_equal(trainer.model.params.data, np.zeros(4))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"patience": 0}, "patience must be an integer >= 1, got 0"),
        ({"patience": 2.0}, "patience must be an integer >= 1, got 2.0"),
        ({"min_delta": -0.1}, "min_delta must be a number >= 0, got -0.1"),
        ({"min_delta": True}, "min_delta must be a number >= 0, got True"),
        ({"min_delta": math.nan}, "min_delta must be a number >= 0, got nan"),
        ({"min_delta": "0.1"}, "min_delta must be a number >= 0, got '0.1'"),
        ({"monitor": ""}, "monitor must name a logged quantity"),
        ({"mode": "auto"}, "mode must be one of min, max, got 'auto'"),
    ],
)
def test_bad_arguments_are_rejected(options, message):
    with pytest.raises(ValueError, match=f"early_stopping: {message}"):
        EarlyStopping(**options)


# -- inside a real Trainer ------------------------------------------------------------------


def blobs(n, seed):
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n) % 3)
    x = 4.0 * np.eye(3, 5)[y] + rng.normal(size=(n, 5))
    return x, y


def overfitting_problem():
    """Validation labels shifted by one class: the better the model fits the training set, the
    worse its validation loss — the situation EarlyStopping exists for."""
    x, y = blobs(200, seed=0)
    x_val, y_val = blobs(60, seed=1)
    return x, y, (x_val, (y_val + 1) % 3)


def model():
    return Sequential(
        [Dense(16), ReLU(), Dense(3), Softmax()],
        loss="categorical_crossentropy",
        input_shape=(5,),
        seed=0,
    )


def test_early_stopping_ends_a_real_fit_and_restores_the_best_epoch():
    x, y, validation = overfitting_problem()
    net = model()
    stopper = EarlyStopping(monitor="val_loss", patience=1)
    trainer = Trainer(net, SGD(0.1), epochs=20, callbacks=[stopper], progress=False)
    history = trainer.fit(x, y, validation_data=validation)

    assert len(history) < 20
    assert trainer.stop_training
    val_loss = history["val_loss"]
    assert val_loss[-1] > min(val_loss)
    assert stopper.best_epoch == int(np.argmin(val_loss))
    # The restored parameters are the best epoch's: evaluating them gives its logged loss.
    restored_loss, _ = trainer.evaluate(*validation)
    assert restored_loss == pytest.approx(min(val_loss), rel=1e-6)


class Recorder(Callback):
    """Writes down every hook call, to show the order Trainer.fit promises."""

    def __init__(self):
        self.calls = []

    def on_train_begin(self, trainer):
        self.calls.append("train_begin")

    def on_epoch_begin(self, epoch, trainer):
        self.calls.append(f"epoch_begin {epoch}")

    def on_step_end(self, step, loss, trainer):
        self.calls.append(f"step {step}")

    def on_epoch_end(self, epoch, logs, trainer):
        self.calls.append(f"epoch_end {epoch}")

    def on_train_end(self, trainer):
        self.calls.append("train_end")


def test_trainer_calls_the_hooks_in_order():
    """Epochs count from 0 in hooks; steps count from 1 over the whole fit."""
    x, y = blobs(10, seed=0)
    recorder = Recorder()
    Trainer(model(), SGD(0.1), epochs=2, batch_size=5, callbacks=[recorder], progress=False).fit(
        x, y
    )
    assert recorder.calls == [
        "train_begin",
        "epoch_begin 0",
        "step 1",
        "step 2",
        "epoch_end 0",
        "epoch_begin 1",
        "step 3",
        "step 4",
        "epoch_end 1",
        "train_end",
    ]
