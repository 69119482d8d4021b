"""Trainer: batching modes, reproducibility, its History, evaluation and the errors a user can hit.

The data is a seeded, linearly separable blob problem (3 classes, 200 examples, 5 features:
class k sits around 4·e_k), so every test trains in milliseconds and "learns" has a clear
meaning: near-perfect accuracy.
"""

import json
import math
import re
import subprocess
import sys

import numpy as np
import pytest

from chainrule.nn.layers import Dense, Dropout, ReLU, Sigmoid, Softmax
from chainrule.nn.model import Sequential
from chainrule.nn.optim import SGD
from chainrule.training.history import EPOCH_KEYS
from chainrule.training.trainer import Trainer, count_correct, iterate_batches

N, FEATURES, CLASSES = 200, 5, 3


def blobs(n=N, seed=0, classes=CLASSES):
    """x (n, 5) around 4·e_k for class k, labels y (n,) in 0..classes-1, shuffled."""
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n) % classes)
    centers = 4.0 * np.eye(classes, FEATURES)
    x = centers[y] + rng.normal(size=(n, FEATURES))
    return x, y


def classifier(seed=0, dropout=0.0):
    layers = [Dense(16), ReLU()]
    if dropout:
        layers.append(Dropout(dropout))
    layers += [Dense(CLASSES), Softmax()]
    return Sequential(layers, loss="categorical_crossentropy", input_shape=(FEATURES,), seed=seed)


def trainer(model=None, learning_rate=0.1, **options):
    options.setdefault("progress", False)
    return Trainer(model or classifier(), SGD(learning_rate), **options)


# -- batching modes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "batch_size", "steps_per_epoch"),
    [
        ("stochastic", 32, N),  # one example per step; batch_size is ignored
        ("batch", 32, 1),  # the whole set per step: full-batch gradient descent
        ("minibatch", 32, math.ceil(N / 32)),  # 7 steps: six of 32 and a last one of 8
        ("minibatch", 50, N // 50),
    ],
)
def test_mode_sets_the_number_of_steps_per_epoch(mode, batch_size, steps_per_epoch):
    """One optimizer step per batch, so step_loss has epochs × steps_per_epoch entries."""
    x, y = blobs()
    fit = trainer(mode=mode, batch_size=batch_size, epochs=2)
    history = fit.fit(x, y)
    assert fit.steps_per_epoch == steps_per_epoch
    assert len(history.step_loss) == 2 * steps_per_epoch


def test_the_last_smaller_batch_is_kept():
    """200 examples in batches of 64: 64, 64, 64 and 8 — no example is dropped."""
    x, y = blobs()
    sizes = [len(xb) for xb, _ in iterate_batches(x, y, 64, np.random.default_rng(0))]
    assert sizes == [64, 64, 64, 8]


def test_training_reduces_the_loss_and_separates_the_blobs():
    x, y = blobs()
    fit = trainer(epochs=10)
    history = fit.fit(x, y)
    assert history["train_loss"][-1] < 0.25 * history["train_loss"][0]
    assert history["train_accuracy"][-1] >= 0.97
    loss, accuracy = fit.evaluate(x, y)
    assert accuracy >= 0.97
    assert loss < history["train_loss"][0]


# -- reproducibility ------------------------------------------------------------------------


def fit_once(seed, **options):
    x, y = blobs()
    model = classifier(dropout=0.2)
    history = trainer(model, epochs=3, seed=seed, **options).fit(x, y)
    return history, model.params.data.copy()


def test_the_same_seed_gives_bitwise_identical_runs():
    """Weights come from the model's seed and the batch order from the trainer's seed."""
    first, params_first = fit_once(seed=7)
    second, params_second = fit_once(seed=7)
    assert first.step_loss == second.step_loss
    for key in EPOCH_KEYS:
        if key != "seconds":
            assert first[key] == second[key], key
    np.testing.assert_array_equal(params_first, params_second)


def test_a_different_seed_gives_a_different_run():
    first, params_first = fit_once(seed=7)
    second, params_second = fit_once(seed=8)
    assert first.step_loss != second.step_loss
    assert not np.array_equal(params_first, params_second)


def manual_loop(model, optimizer, x, y, epochs, batch_size, seed, shuffle=True):
    """What Trainer.fit does, written out: the contract in train.py's docstring."""
    order_rng = np.random.default_rng(seed)
    n = x.shape[0]
    for _ in range(epochs):
        order = order_rng.permutation(n) if shuffle else np.arange(n)
        for start in range(0, n, batch_size):
            index = order[start : start + batch_size]
            xb, yb = x[index], y[index]
            output = model.forward(xb, training=True)
            model.compute_loss(output, yb)
            model.backward(yb)
            optimizer.step(model.params.data, model.params.grad_data)


@pytest.mark.parametrize("shuffle", [True, False])
def test_a_hand_written_loop_reproduces_fit_bit_for_bit(shuffle):
    """fit is no magic: the same seed, permutation and four calls per step give the same
    parameters, down to the last bit (dropout masks included)."""
    x, y = blobs()
    fitted = classifier(seed=3, dropout=0.2)
    trainer(fitted, epochs=3, batch_size=16, seed=11, shuffle=shuffle).fit(x, y)

    by_hand = classifier(seed=3, dropout=0.2)
    manual_loop(by_hand, SGD(0.1), x, y, epochs=3, batch_size=16, seed=11, shuffle=shuffle)

    np.testing.assert_array_equal(fitted.params.data, by_hand.params.data)


def test_step_outside_fit_is_one_update_of_the_hand_written_loop():
    """``step`` works on its own too (one thread): forward, loss, backward, optimizer step."""
    x, y = blobs(n=16)
    stepped, by_hand = classifier(seed=2), classifier(seed=2)
    x = x.astype(stepped.dtype)  # step takes checked data, as fit passes it
    loss, correct = trainer(stepped).step(x, y)
    output = by_hand.forward(x, training=True)
    expected = by_hand.compute_loss(output, y).total
    by_hand.backward(y)
    SGD(0.1).step(by_hand.params.data, by_hand.params.grad_data)
    assert loss == expected
    assert correct == count_correct(output, y)
    np.testing.assert_array_equal(stepped.params.data, by_hand.params.data)


def test_shuffle_false_visits_the_examples_in_order():
    x, y = blobs(n=10)
    fit = trainer(shuffle=False, batch_size=4)
    batches = list(fit.batches(x, y, np.random.default_rng(0)))
    np.testing.assert_array_equal(np.concatenate([xb for xb, _ in batches]), x)
    np.testing.assert_array_equal(np.concatenate([yb for _, yb in batches]), y)


def test_shuffle_draws_a_new_order_every_epoch():
    """Each epoch is a fresh permutation: every example once, rows and labels kept together."""
    x, y = np.arange(10.0)[:, None], np.arange(10)
    order_rng = np.random.default_rng(0)
    epochs = []
    for _ in range(2):
        batches = list(iterate_batches(x, y, 4, order_rng))
        assert all(np.array_equal(xb[:, 0], yb) for xb, yb in batches)
        epochs.append(np.concatenate([yb for _, yb in batches]))
    assert sorted(epochs[0]) == sorted(epochs[1]) == list(range(10))
    assert not np.array_equal(epochs[0], epochs[1])
    assert not np.array_equal(epochs[0], y)


# -- History --------------------------------------------------------------------------------


def test_history_has_one_entry_per_epoch_for_every_key():
    x, y = blobs()
    history = trainer(epochs=4).fit(x, y, validation_data=blobs(60, seed=1))
    assert len(history) == 4
    assert set(history.to_dict()) == set(EPOCH_KEYS)
    assert {len(values) for values in history.to_dict().values()} == {4}
    assert history["epoch"] == [1, 2, 3, 4]
    assert history["learning_rate"] == [0.1] * 4
    assert history.last()["epoch"] == 4


# -- validation and evaluation --------------------------------------------------------------


class RecordLogs:
    """A minimal callback: every hook the trainer calls, keeping each epoch's logs."""

    def __init__(self):
        self.logs = []

    def on_train_begin(self, trainer):
        pass

    def on_epoch_begin(self, epoch, trainer):
        pass

    def on_step_end(self, step, loss, trainer):
        pass

    def on_epoch_end(self, epoch, logs, trainer):
        self.logs.append(dict(logs))

    def on_train_end(self, trainer):
        pass


def test_validation_keys_are_logged_only_with_validation_data():
    x, y = blobs()
    without, with_validation = RecordLogs(), RecordLogs()
    history = trainer(epochs=2, callbacks=[without]).fit(x, y)
    assert "val_loss" not in without.logs[0]
    assert history["val_loss"] == [None, None]

    history = trainer(epochs=2, callbacks=[with_validation]).fit(
        x, y, validation_data=blobs(60, seed=1)
    )
    assert {"val_loss", "val_accuracy"} <= set(with_validation.logs[0])
    assert all(isinstance(v, float) for v in history["val_loss"] + history["val_accuracy"])


def test_evaluate_agrees_with_predict_and_the_models_loss():
    """evaluate is the example-weighted mean over its chunks: chunking changes nothing."""
    x, y = blobs()
    fit = trainer(epochs=2)
    fit.fit(x, y)
    loss, accuracy = fit.evaluate(x, y, batch_size=64)
    assert accuracy == np.mean(fit.model.predict(x) == y)
    assert loss == pytest.approx(fit.model.loss_value(x, y).total, rel=1e-5)


def test_the_last_validation_log_is_evaluate_on_the_validation_set():
    x, y = blobs()
    x_val, y_val = blobs(60, seed=1)
    fit = trainer(epochs=2)
    history = fit.fit(x, y, validation_data=(x_val, y_val))
    assert (history["val_loss"][-1], history["val_accuracy"][-1]) == fit.evaluate(x_val, y_val)


# -- binary classification ------------------------------------------------------------------


def test_a_binary_model_trains_on_0_1_labels():
    """One sigmoid output + binary cross-entropy; labels stay a plain (n,) vector of 0/1."""
    x, y = blobs(classes=2)
    model = Sequential(
        [Dense(8), ReLU(), Dense(1), Sigmoid()],
        loss="binary_crossentropy",
        input_shape=(FEATURES,),
        seed=0,
    )
    fit = trainer(model, epochs=10)
    history = fit.fit(x, y)
    assert history["train_loss"][-1] < history["train_loss"][0]
    _, accuracy = fit.evaluate(x, y)
    assert accuracy >= 0.97
    assert accuracy == np.mean(model.predict(x) == y)


def test_count_correct_thresholds_one_sigmoid_output_at_one_half():
    probabilities = np.array([[0.9], [0.2], [0.6], [0.4], [0.51]])
    assert count_correct(probabilities, np.array([1, 0, 0, 0, 1])) == 4
    assert count_correct(probabilities, np.array([[1], [0], [0], [0], [1]])) == 4


def test_count_correct_takes_labels_or_one_hot_rows():
    probabilities = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.3, 0.4, 0.3]])
    assert count_correct(probabilities, np.array([0, 2, 0])) == 2
    assert count_correct(probabilities, np.eye(3)[[0, 2, 0]]) == 2


# -- errors a user can trigger --------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"mode": "online"}, "mode must be one of minibatch, stochastic, batch, got 'online'"),
        ({"epochs": 0}, "epochs must be an integer >= 1, got 0"),
        ({"epochs": 2.5}, "epochs must be an integer >= 1, got 2.5"),
        ({"batch_size": 0}, "batch_size must be an integer >= 1, got 0"),
        ({"batch_size": True}, "batch_size must be an integer >= 1, got True"),
        ({"keep_last": 0}, "keep_last must be an integer >= 1, got 0"),
        ({"keep_last": "2"}, "keep_last must be an integer >= 1, got '2'"),
    ],
)
def test_bad_trainer_options_are_rejected(options, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        trainer(**options)


def test_a_model_without_a_loss_cannot_be_trained():
    model = Sequential([Dense(CLASSES), Softmax()], input_shape=(FEATURES,))
    with pytest.raises(ValueError, match="no loss to train on; pass loss="):
        Trainer(model, SGD(0.1), progress=False)


def test_x_and_y_of_different_lengths_are_rejected():
    x, y = blobs()
    with pytest.raises(ValueError, match="training data: 200 examples but 199 labels"):
        trainer().fit(x, y[:-1])
    with pytest.raises(ValueError, match="validation data: 60 examples but 59 labels"):
        x_val, y_val = blobs(60, seed=1)
        trainer().fit(x, y, validation_data=(x_val, y_val[:-1]))


def test_empty_data_is_rejected():
    x, y = blobs()
    with pytest.raises(ValueError, match="training data is empty"):
        trainer().fit(x[:0], y[:0])


def test_a_label_outside_the_class_range_is_named():
    """Checked before the first step, so a bad label costs no training time."""
    x, y = blobs()
    y = y.copy()
    y[17] = 7
    with pytest.raises(ValueError, match=r"label 7 is outside the class range 0\.\.2"):
        trainer().fit(x, y)


def test_nan_inputs_are_rejected():
    x, y = blobs()
    x = x.copy()
    x[3, 1] = np.nan
    with pytest.raises(ValueError, match="1 NaN or infinite value"):
        trainer().fit(x, y)


def test_inputs_of_the_wrong_width_are_rejected():
    x, y = blobs()
    with pytest.raises(ValueError, match=r"expects input of shape \(batch, 5\), got \(200, 4\)"):
        trainer().fit(x[:, :4], y)


def test_a_stop_request_without_a_checkpoint_directory_stops_between_steps():
    from chainrule.training.callbacks import Callback
    from chainrule.training.trainer import TrainingInterrupted

    class StopAfterFive(Callback):
        def on_step_end(self, step, loss, trainer):
            if step == 5:
                trainer.interrupt_requested = True  # what Ctrl-C does

    x, y = blobs()
    fit = trainer(batch_size=32, epochs=3, callbacks=[StopAfterFive()])
    with pytest.raises(TrainingInterrupted, match="interrupted in epoch 1 after step 5") as stop:
        fit.fit(x, y)
    assert stop.value.checkpoint is None
    assert len(fit.history.step_loss) == 5 and len(fit.history) == 0


# -- divergence: a non-finite loss, or a finite one that explodes ----------------------------


def test_a_finite_loss_that_explodes_is_divergence():
    """SGD at lr 1000 on the blobs: step 2's loss is finite but about 10⁵ × step 1's."""
    from chainrule.training.trainer import LOSS_GROWTH, TrainingDiverged

    x, y = blobs()
    fit = trainer(learning_rate=1e3, epochs=5, batch_size=16)
    with pytest.raises(TrainingDiverged, match=r"lower learning rate \(it is 1000\)") as error:
        fit.fit(x, y)
    message = str(error.value)
    assert "not finite" not in message
    exploded = float(re.search(r"the loss grew to (\S+), over", message).group(1))
    (first,) = fit.history.step_loss  # the history stops before the exploded step
    assert math.isfinite(exploded) and exploded > LOSS_GROWTH * first
    assert error.value.step == 2 and error.value.last_finite_loss == first


def test_the_loss_ceiling_follows_the_running_minimum_down_to_a_floor():
    """ceiling = 10⁴ · max(m, s / 10): m the running minimum of ℓ₁ and the epoch means,
    s = max(ℓ₁, L̄₁, 1) the first epoch's scale."""
    from chainrule.training.trainer import LOSS_GROWTH, loss_ceiling

    assert loss_ceiling(None, []) == -math.inf  # no step yet: the first one sets it
    assert loss_ceiling(2.3, []) == LOSS_GROWTH * 2.3  # during epoch 1
    assert loss_ceiling(2.3, [0.9, 0.5]) == LOSS_GROWTH * 0.5  # the running minimum
    # late in training, near 0: never under a tenth of the first epoch's scale
    assert loss_ceiling(2.3, [0.9, 1e-6]) == LOSS_GROWTH * 0.23
    assert loss_ceiling(2.3, [40.0, 1e-6]) == LOSS_GROWTH * 4.0  # a first epoch that spiked
    # a fit that starts from a trained model (tiny ℓ₁): the scale is at least 1
    assert loss_ceiling(1e-4, [1e-5]) == LOSS_GROWTH * 0.1


def test_healthy_training_stays_far_under_the_ceiling(shared_data):
    """Real digits, one example per step (the noisiest batches: single losses from 0 to
    dozens late in training): every step's loss stays under 10 % of the ceiling it met."""
    from chainrule.data import load_split
    from chainrule.nn.optim import Adam
    from chainrule.training.trainer import loss_ceiling

    images, labels = load_split("mnist", "test", data_dir=shared_data, download=False)
    x = (images[:500].reshape(500, -1) / 255.0 - 0.13) / 0.31
    model = Sequential([Dense(64), ReLU(), Dense(10), Softmax()],
                       loss="categorical_crossentropy", input_shape=(784,), seed=0)  # fmt: skip
    fit = Trainer(model, Adam(0.003), epochs=3, mode="stochastic", progress=False)
    history = fit.fit(x, labels[:500])
    steps, means = history.step_loss, history["train_loss"]
    assert means[-1] < 0.5 * means[0]  # it learned
    ceilings = [loss_ceiling(steps[0], means[: t // 500]) for t in range(1, len(steps))]
    assert max(np.array(steps[1:]) / ceilings) < 0.1


def test_resuming_keeps_the_ceiling_of_the_run(tmp_path):
    """The ceiling comes from the history a checkpoint keeps, so a resumed run checks against
    the same numbers as the run it continues."""
    x, y = blobs()
    first = trainer(epochs=2, checkpoint_dir=tmp_path)
    first.fit(x, y)
    resumed = trainer(epochs=3)
    resumed.fit(x, y, resume_from=tmp_path / "epoch-0002.safetensors")
    ceiling_after_two = first._loss_ceiling
    straight = trainer(epochs=3)
    straight.fit(x, y)
    assert resumed._loss_ceiling == straight._loss_ceiling
    assert ceiling_after_two >= straight._loss_ceiling  # the running minimum only goes down


# -- NumPy's float warnings: off, so that the checks' one message stands alone ---------------


def overflowing_inputs():
    """The blobs, scaled so that float32 arithmetic overflows in the first forward pass."""
    x, y = blobs()
    return x * 3e37, y


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_an_overflow_in_training_is_divergence_not_a_warning():
    from chainrule.training.trainer import TrainingDiverged

    with pytest.raises(TrainingDiverged, match="diverged at epoch 1, step 1 "):
        trainer().fit(*overflowing_inputs())


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_an_overflow_in_the_threads_of_a_split_step_is_no_warning_either(monkeypatch):
    """NumPy keeps its error state per thread: DataParallel's threads run in the caller's."""
    from chainrule.nn.layers import Flatten
    from chainrule.training import parallel
    from chainrule.training.trainer import TrainingDiverged

    monkeypatch.setattr(parallel, "ELEMENTWISE_WORK", 0)  # split even this small model
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 1, 8, 8)) * 3e37, rng.integers(0, 3, 64)
    model = Sequential([Flatten(), Dense(16), ReLU(), Dense(3), Softmax()],
                       loss="categorical_crossentropy", input_shape=(1, 8, 8))  # fmt: skip
    fit = Trainer(model, SGD(0.1), epochs=1, batch_size=32, progress=False, threads=2)
    with pytest.raises(TrainingDiverged, match="diverged at epoch 1, step 1 "):
        fit.fit(x, y)
    assert fit.thread_plan.workers == 2
    x, _ = overflowing_inputs()
    with pytest.raises(TrainingDiverged):  # and a step called on its own
        trainer().step(x[:8], y[:8])


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_evaluating_an_overflowing_model_gives_a_non_finite_loss_without_a_warning():
    x, y = overflowing_inputs()
    loss, accuracy = trainer().evaluate(x, y)
    assert not math.isfinite(loss)
    assert 0 <= accuracy <= 1


def test_the_optimizers_kernels_load_before_the_first_epochs_clock_starts():
    """A fresh process: by the first epoch's start Adam's kernels (its update and the flush)
    are loaded for the model's dtype, so that epoch's seconds count training, not Numba
    starting and loading its cache; SGD without momentum loads none (nor Numba)."""
    pytest.importorskip("numba", reason="the compiled kernels need Numba")
    code = """
import json, sys
import numpy as np
from chainrule.nn import kernels
from chainrule.nn.layers import Dense, Softmax
from chainrule.nn.model import Sequential
from chainrule.nn.optim import SGD, Adam
from chainrule.training.callbacks import Callback
from chainrule.training.trainer import Trainer

class Look(Callback):
    def on_epoch_begin(self, epoch, trainer):
        loaded = {name: len(kernel.signatures) for name, kernel in kernels._kernels.items()}
        print(json.dumps(loaded))

model = Sequential([Dense(2), Softmax()], "categorical_crossentropy", input_shape=(3,))
optimizer = Adam(0.1) if sys.argv[1] == "adam" else SGD(0.1)
Trainer(model, optimizer, epochs=1, progress=False, callbacks=[Look()]).fit(
    np.ones((4, 3)), np.array([0, 1, 0, 1]))
"""
    loaded = {}
    for name in ("adam", "sgd"):
        result = subprocess.run(
            [sys.executable, "-c", code, name], capture_output=True, text=True, check=True
        )
        loaded[name] = json.loads(result.stdout)
    assert loaded["adam"] == {"_adam_kernel": 1, "_flush_kernel": 1}  # float32, the model's
    assert loaded["sgd"] == {}
