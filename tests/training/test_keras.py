"""Keras habits on real digits: the tutorial snippet runs as written, fit is Trainer.fit, and
a hand-written loop gives the same weights."""

import itertools
import math
from dataclasses import dataclass

import numpy as np
import pytest

from chainrule import Dense, Sequential
from chainrule.data import load_split, scale
from chainrule.nn.layers import Dropout, Flatten
from chainrule.nn.losses import BinaryCrossEntropy, CategoricalCrossEntropy, MeanSquaredError
from chainrule.nn.model import Sequential as EngineSequential
from chainrule.nn.optim import SGD, Adam
from chainrule.training.callbacks import Callback
from chainrule.training.keras import split_validation
from chainrule.training.parallel import plan_threads
from chainrule.training.trainer import History


@dataclass
class Digits:
    images: np.ndarray  # uint8 (n, 28, 28), as IDX files hold them
    labels: np.ndarray  # integer classes (n,)

    @property
    def flat(self) -> np.ndarray:
        """Flattened and scaled to [0, 1], as the Keras tutorials prepare them."""
        return scale(self.images.reshape(len(self.images), -1))


@pytest.fixture(scope="module")
def digits(shared_data):
    images, labels = load_split("mnist", "test", data_dir=shared_data, download=False)
    return Digits(images[:2500], labels[:2500])


def tutorial_model(**options) -> Sequential:
    model = Sequential(**options)
    model.add(Dense(128, activation="relu"))
    model.add(Dense(64, activation="relu"))
    model.add(Dense(10, activation="softmax"))
    return model


def test_the_keras_tutorial_runs_as_written(digits, capsys):
    x = digits.flat
    train_images, train_labels = x[:2000], digits.labels[:2000]
    test_images, test_labels = x[2000:], digits.labels[2000:]

    model = Sequential()
    model.add(Dense(128, activation="relu"))
    model.add(Dense(64, activation="relu"))
    model.add(Dense(10, activation="softmax"))
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(train_images, train_labels, epochs=5, batch_size=32, validation_split=0.1)
    model.summary()
    test_loss, test_acc = model.evaluate(test_images, test_labels)

    assert isinstance(history, History) and model.history is history
    assert len(history) == 5 and len(history.step_loss) == 5 * math.ceil(1800 / 32)
    assert history["val_accuracy"][-1] is not None
    assert test_acc > 0.85 and test_loss < history["train_loss"][0]
    # validation_split held out the last 10%, before shuffling (Keras's rule)
    val_loss, val_acc = model.evaluate(train_images[1800:], train_labels[1800:])
    assert val_loss == pytest.approx(history["val_loss"][-1], rel=1e-5)
    assert val_acc == pytest.approx(history["val_accuracy"][-1])
    printed = capsys.readouterr().out
    sizes = [784, 128, 64, 10]
    total = sum(n_in * n_out + n_out for n_in, n_out in itertools.pairwise(sizes))
    assert f"Total params: {total:,}" in printed
    assert "dense_1 (Dense)" in printed and "relu_1 (ReLU)" in printed
    assert "dense_3 → softmax_1" in " ".join(printed.split())  # the note is wrapped


def test_a_hand_written_loop_gives_the_weights_of_fit_bit_for_bit(digits):
    """Forward, loss, backward, step — the GradientTape way — against ``model.fit``.

    Bit-for-bit, not merely close: both run the very same float operations in the same
    order. The weights come from the same seed, the batch order from
    ``default_rng(seed).permutation(n)`` once per epoch, the dropout masks from the model's
    generator in the same sequence, and the matrix products on the same one-thread plan (a
    multi-threaded product may group its sums differently, which would leave differences of
    about 1e-7 instead of none)."""
    x, y = digits.flat[:1000], digits.labels[:1000]
    epochs, batch_size, seed = 2, 50, 3

    def build() -> Sequential:
        model = Sequential(seed=seed)
        model.add(Dense(32, activation="tanh"))
        model.add(Dropout(0.2))
        model.add(Dense(10, activation="softmax"))
        return model

    with_fit = build()
    with_fit.compile(optimizer=Adam(learning_rate=0.003), loss="sparse_categorical_crossentropy")
    history = with_fit.fit(x, y, epochs=epochs, batch_size=batch_size, seed=seed, verbose=0)

    by_hand = build()
    by_hand.set_loss("categorical_crossentropy")
    by_hand.build(x.shape[1:])
    optimizer = Adam(learning_rate=0.003)
    order_rng = np.random.default_rng(seed)
    losses = []
    plan = plan_threads(by_hand, batch_size)
    assert plan.workers == 1
    with plan.limits():
        for _epoch in range(epochs):
            order = order_rng.permutation(len(x))
            for start in range(0, len(x), batch_size):
                xb, yb = x[order[start : start + batch_size]], y[order[start : start + batch_size]]
                output = by_hand.forward(xb, training=True)
                losses.append(by_hand.compute_loss(output, yb).total)
                by_hand.backward(yb)
                optimizer.step(by_hand.params.data, by_hand.params.grad_data)

    assert losses == history.step_loss
    assert np.array_equal(by_hand.params.data, with_fit.params.data)
    assert losses[-1] < losses[0]


def test_integer_labels_and_one_hot_rows_train_alike(digits):
    x, labels = digits.flat[:600], digits.labels[:600]
    one_hot = np.eye(10, dtype=np.float32)[labels]
    runs = []
    for loss, y in [
        ("sparse_categorical_crossentropy", labels),
        ("categorical_crossentropy", one_hot),
    ]:
        model = tutorial_model()
        model.compile(optimizer="sgd", loss=loss, metrics=["accuracy"])
        model.fit(x, y, epochs=1, verbose=0)
        runs.append((model.params.data, model.evaluate(x, y)))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])  # the same δ = (a - y)/m each step
    # The loss value reads log a_y off the probabilities for labels and goes through the
    # logits for one-hot rows: equal to float32 rounding, not bit for bit.
    assert runs[0][1][0] == pytest.approx(runs[1][1][0], rel=1e-6)
    assert runs[0][1][1] == runs[1][1][1]


@pytest.mark.parametrize(
    ("name", "loss_type"),
    [
        ("categorical_crossentropy", CategoricalCrossEntropy),
        ("sparse_categorical_crossentropy", CategoricalCrossEntropy),
        ("binary_crossentropy", BinaryCrossEntropy),
        ("mse", MeanSquaredError),
        ("mean_squared_error", MeanSquaredError),
    ],
)
def test_keras_loss_names_name_the_projects_losses(name, loss_type):
    model = tutorial_model()
    model.compile(optimizer="adam", loss=name)
    assert type(model.loss) is loss_type


def test_a_binary_task_with_one_sigmoid_unit(digits):
    x, is_seven = digits.flat[:1500], (digits.labels[:1500] == 7).astype(np.float32)
    model = Sequential([Dense(16, activation="relu"), Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(x[:1000], is_seven[:1000], epochs=3, verbose=0)
    _loss, accuracy = model.evaluate(x[1000:], is_seven[1000:])
    assert accuracy > 0.9  # "never a 7" scores about 0.9
    assert model.predict(x[:5]).shape == (5, 1)


def test_predict_gives_probabilities_and_evaluate_what_keras_returns(digits):
    x, y = digits.flat[:300], digits.labels[:300]
    model = tutorial_model()
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    model.fit(x, y, verbose=0)
    probabilities = model.predict(x)
    assert probabilities.shape == (300, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)
    # chunks of 7 rows change only how BLAS groups the sums: equal to float32 rounding
    np.testing.assert_allclose(model.predict(x, batch_size=7), probabilities, rtol=1e-5)
    classes = EngineSequential.predict(model, x)  # the engine's predict: classes
    np.testing.assert_array_equal(np.argmax(probabilities, axis=1), classes)
    loss = model.evaluate(x, y)  # no metrics compiled: the loss alone, as Keras
    assert isinstance(loss, float)
    model.compile(optimizer=model.optimizer, metrics=["accuracy", "acc"])  # keeps the loss
    loss_again, accuracy, same_accuracy = model.evaluate(x, y, batch_size=64)
    assert loss_again == pytest.approx(loss, rel=1e-6)
    assert accuracy == same_accuracy == np.mean(classes == y)


def test_fit_runs_the_callbacks_and_continues_from_where_it_was(digits):
    class StopAfterTwo(Callback):
        def __init__(self):
            self.epochs_seen = []

        def on_epoch_end(self, epoch, logs, trainer):
            self.epochs_seen.append(epoch)
            if epoch == 1:
                trainer.stop_training = True

    x, y = digits.flat[:300], digits.labels[:300]
    model = tutorial_model()
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    stopper = StopAfterTwo()
    history = model.fit(x, y, epochs=10, callbacks=[stopper], verbose=0)
    assert stopper.epochs_seen == [0, 1] and len(history) == 2
    before = model.params.data.copy()
    model.fit(x, y, epochs=1, verbose=0)  # a second fit trains on from these weights
    assert model.optimizer.iterations == 3 * math.ceil(300 / 32)
    assert not np.array_equal(model.params.data, before)


def test_uint8_images_are_used_as_given_like_keras(digits):
    """Keras does not rescale 0..255 inputs, and neither does this: divide by 255 first."""
    images = digits.images[:8].reshape(8, -1)
    model = Sequential([Dense(10, activation="softmax")], input_shape=(784,))
    np.testing.assert_array_equal(model.predict(images), model.predict(images.astype(np.float32)))
    assert not np.allclose(model.predict(images), model.predict(images / 255))


def test_images_need_flatten_as_in_keras(digits):
    images, labels = digits.images[:200] / 255, digits.labels[:200]
    model = tutorial_model()
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    with pytest.raises(ValueError, match=r"got shape \(28, 28\); put a Flatten layer before it"):
        model.fit(images, labels, verbose=0)
    with_flatten = Sequential([Flatten(), Dense(10, activation="softmax")])
    with_flatten.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    with_flatten.fit(images, labels, verbose=0)
    assert with_flatten.input_shape == (28, 28)


def test_input_shape_on_the_first_layer_builds_at_once(capsys):
    model = Sequential()
    model.add(Dense(128, activation="relu", input_shape=(784,)))
    model.add(Dense(10, activation="softmax"))
    model.summary()  # before any data, as Keras allows when the shape is given
    assert "(None, 128)" in capsys.readouterr().out
    lines = []
    model.summary(print_fn=lines.append)
    assert len(lines) == 1 and "dense_2 (Dense)" in lines[0]


def test_a_saved_model_loads_as_a_keras_model(digits, tmp_path):
    x, y = digits.flat[:200], digits.labels[:200]
    model = tutorial_model()
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, verbose=0)
    loaded = Sequential.load(model.save(tmp_path / "m.safetensors"))
    assert type(loaded) is Sequential
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    loaded.compile(optimizer="adam", metrics=["accuracy"])  # the loss came with the file
    assert loaded.evaluate(x, y) == pytest.approx(model.evaluate(x, y))


def test_split_validation_holds_out_the_last_examples():
    x, y = np.arange(20).reshape(10, 2), np.arange(10)
    (x_train, y_train), (x_val, y_val) = split_validation(x, y, 0.25)
    assert list(y_train) == list(range(7)) and list(y_val) == [7, 8, 9]  # ⌊10 · 0.75⌋ = 7
    np.testing.assert_array_equal(np.concatenate([x_train, x_val]), x)


# -- errors a user can act on ----------------------------------------------------------------
def test_fit_and_evaluate_before_compile_say_compile(digits):
    model = tutorial_model()
    for call in (model.fit, model.evaluate):
        with pytest.raises(RuntimeError, match=r"needs a compiled model: call model.compile\("):
            call(digits.flat[:10], digits.labels[:10])


def test_unknown_names_list_the_valid_ones():
    model = tutorial_model()
    with pytest.raises(ValueError, match="unknown optimizer 'adamm'; valid optimizers: sgd.*adam"):
        model.compile(optimizer="adamm", loss="mse")
    with pytest.raises(
        ValueError, match="unknown loss 'hinge'; valid losses: mse.*sparse_categorical_crossentropy"
    ):
        model.compile(optimizer="adam", loss="hinge")
    with pytest.raises(ValueError, match="unknown metric 'f1'; valid metrics: accuracy"):
        model.compile(optimizer="adam", loss="mse", metrics=["f1"])
    with pytest.raises(ValueError, match="the model has no loss; pass loss=.*mse"):
        model.compile(optimizer="adam")
    assert model.optimizer is None  # a failed compile leaves the model as it was


def test_data_of_the_wrong_shape_is_refused(digits):
    x, y = digits.flat[:100], digits.labels[:100]
    model = tutorial_model()
    model.compile(optimizer=SGD(), loss="categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, verbose=0)
    with pytest.raises(
        ValueError, match=r"expects input of shape \(batch, 784\), got \(100, 785\)"
    ):
        model.evaluate(np.hstack([x, x[:, :1]]), y)
    with pytest.raises(ValueError, match="100 examples but 99 labels"):
        model.fit(x, y[:99], verbose=0)
    with pytest.raises(ValueError, match="label 10 is outside the class range 0..9"):
        model.fit(x, np.full(100, 10), verbose=0)


@pytest.mark.parametrize("fraction", [0, 1, 1.5, -0.1, "0.1", True])
def test_validation_split_must_be_a_fraction(fraction):
    with pytest.raises(ValueError, match="validation_split must be a number in"):
        split_validation(np.zeros((10, 2)), np.zeros(10), fraction)


def test_a_validation_split_that_leaves_nothing_is_refused():
    with pytest.raises(ValueError, match="leaves 0 for training and 3 for validation"):
        split_validation(np.zeros((3, 2)), np.zeros(3), 0.9)


def test_verbose_takes_keras_values(digits):
    model = tutorial_model()
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    with pytest.raises(ValueError, match="verbose must be one of 0, 1, 2, 'auto', got 'loud'"):
        model.fit(digits.flat[:10], digits.labels[:10], verbose="loud")
