"""Data parallelism: a batch split across threads gives the gradient of the whole batch.

The models are small CNNs and MLPs on generated data, in float64 so that "the same gradient"
can be checked to 1e-12: only the grouping of the sums differs between one pass over the
batch and the weighted sum of its parts.
"""

import numpy as np
import pytest

import chainrule.nn.model
from chainrule.app.recipes import load_recipe
from chainrule.nn.layers import (
    BatchNorm,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    MaxPool2D,
    ReLU,
    Softmax,
)
from chainrule.nn.model import Sequential
from chainrule.nn.optim import Adam
from chainrule.training import parallel
from chainrule.training.callbacks import Callback
from chainrule.training.parallel import (
    DataParallel,
    ThreadPlan,
    add_weighted,
    can_split,
    plan_threads,
)
from chainrule.training.trainer import Trainer, TrainingInterrupted

RECIPES = parallel.__file__.rsplit("/src/", 1)[0] + "/recipes"


def small_cnn(dropout=0.0, dtype="float64", l2=0.0, batch_norm=False):
    layers = [Conv2D(4, 3, padding="same"), ReLU(), MaxPool2D(2), Flatten(), Dense(12)]
    if batch_norm:
        layers.append(BatchNorm())
    layers.append(ReLU())
    if dropout:
        layers.append(Dropout(dropout))
    layers += [Dense(3), Softmax()]
    return Sequential(
        layers, loss="categorical_crossentropy", input_shape=(1, 8, 8), dtype=dtype, l2=l2
    )


def images(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 1, 8, 8)), rng.integers(0, 3, n)


@pytest.mark.parametrize("m", [10, 9])  # equal halves, and 5 + 4 (weights 5/9 and 4/9)
def test_split_gradient_and_loss_equal_the_whole_batch(m):
    """∇L = Σ_k (m_k/m) ∇L_k, the L2 term included once."""
    x, y = images(m)
    whole, split = small_cnn(l2=0.01), small_cnn(l2=0.01)
    output = whole.forward(x, training=True)
    loss = whole.compute_loss(output, y)
    whole.backward(y)
    with DataParallel(split, workers=2) as data_parallel:
        result = data_parallel.forward_backward(x, y)
    np.testing.assert_allclose(split.params.grad_data, whole.params.grad_data, rtol=1e-12)
    assert result.loss.data == pytest.approx(loss.data, rel=1e-12)
    assert result.loss.l2 == pytest.approx(loss.l2, rel=1e-12) and loss.l2 > 0
    assert [s.stop - s.start for s in result.parts] == [(m + 1) // 2, m // 2]
    np.testing.assert_allclose(np.concatenate(result.outputs), output, rtol=1e-12)


def test_one_worker_is_the_models_own_pass_bit_for_bit():
    """The trainer steps through DataParallel even on one thread: nothing may change there."""
    x, y = images(9)
    whole, alone = small_cnn(l2=0.01), small_cnn(l2=0.01)
    output = whole.forward(x, training=True)
    loss = whole.compute_loss(output, y)
    whole.backward(y)
    with DataParallel(alone, workers=1) as data_parallel:
        result = data_parallel.forward_backward(x, y)
    assert result.loss == loss
    assert result.parts == [slice(0, 9)]
    np.testing.assert_array_equal(result.outputs[0], output)
    assert alone.params.grad_data.tobytes() == whole.params.grad_data.tobytes()


def test_add_weighted_adds_a_scaled_part_in_place():
    total, part = np.array([1.0, 2.0]), np.array([4.0, -8.0])
    add_weighted(total, part, 0.25)
    np.testing.assert_array_equal(total, [1.0 + 0.25 * 4.0, 2.0 + 0.25 * -8.0])
    np.testing.assert_array_equal(part, [0.25 * 4.0, 0.25 * -8.0])  # the spent part, scaled


@pytest.mark.parametrize("workers", [1, 2])
def test_a_batch_too_big_for_one_pass_runs_in_chunks_with_the_same_gradient(monkeypatch, workers):
    model = small_cnn(l2=0.01)
    monkeypatch.setattr(parallel, "TRAINING_VALUES", 3 * model.activation_size())
    x, y = images(17)
    whole = small_cnn(l2=0.01)
    output = whole.forward(x, training=True)
    loss = whole.compute_loss(output, y)
    whole.backward(y)
    with DataParallel(model, workers=workers) as data_parallel:
        assert data_parallel.max_rows == 3 and data_parallel.splits(17)
        result = data_parallel.forward_backward(x, y)
    np.testing.assert_allclose(model.params.grad_data, whole.params.grad_data, rtol=1e-12)
    assert result.loss.total == pytest.approx(loss.total, rel=1e-12)
    np.testing.assert_allclose(np.concatenate(result.outputs), output, rtol=1e-12)


def test_full_batch_training_of_a_cnn_takes_bounded_chunks(monkeypatch):
    x, y = images(40)
    trained = []
    for values in (None, 5):  # one pass over the batch, then chunks of at most 5 images
        model = small_cnn()
        if values:
            monkeypatch.setattr(parallel, "TRAINING_VALUES", values * model.activation_size())
        Trainer(model, Adam(0.01), mode="batch", epochs=3, progress=False, threads=1).fit(x, y)
        trained.append(model.params.data.copy())
    np.testing.assert_allclose(trained[1], trained[0], rtol=1e-9, atol=1e-12)
    assert not np.allclose(trained[0], small_cnn().params.data)  # it did train


def test_replicas_share_parameters_but_not_gradients():
    model = small_cnn()
    twin = model.replica()
    assert np.shares_memory(twin.params["dense_1.W"], model.params.data)
    assert not np.shares_memory(twin.params.grad_data, model.params.grad_data)
    model.params.data[:] = 0.5  # an optimizer step on the model reaches the replica
    assert np.all(twin.params["conv2d_1.W"] == 0.5)


def test_dropout_masks_differ_between_parts_and_repeat_across_runs():
    x, y = images(16)
    x[8:] = x[:8]  # the two halves see the same images: only their masks tell them apart
    outputs = []
    for _ in range(2):
        model = small_cnn(dropout=0.5)
        with DataParallel(model, workers=2) as data_parallel:
            outputs.append(data_parallel.forward_backward(x, y).outputs)
    first, second = outputs
    assert not np.allclose(first[0], first[1])  # independent masks per replica
    for a, b in zip(first, second, strict=True):  # a seeded model: the same masks again
        np.testing.assert_array_equal(a, b)


def test_batch_norm_models_are_not_split():
    model = small_cnn(batch_norm=True)
    assert not can_split(model)
    with pytest.raises(ValueError, match=r"batch_norm_1 use statistics of the whole batch"):
        DataParallel(model, workers=2)
    assert plan_threads(model, 4096, threads=2).workers == 1
    with DataParallel(model, workers=1) as whole_batches:
        assert not whole_batches.splits(100_000)  # never cut, not even into chunks


@pytest.mark.parametrize("workers", [0, 1.0, True])
def test_workers_must_be_a_count(workers):
    with pytest.raises(ValueError) as error:
        DataParallel(small_cnn(), workers=workers)
    assert str(error.value) == f"workers must be an integer >= 1, got {workers!r}"


def test_plan_for_the_shipped_recipes_and_an_mlp():
    lenet = load_recipe(f"{RECIPES}/cnn-lenet.yaml")
    cnn = lenet.build_model(input_shape=(1, 28, 28))
    assert cnn.activation_size() * 64 >= parallel.ELEMENTWISE_WORK
    assert plan_threads(cnn, 64, threads=2) == ThreadPlan(workers=2, blas_threads=1)
    assert plan_threads(cnn, 64, threads=1) == ThreadPlan(workers=1, blas_threads=1)
    assert plan_threads(cnn, 16, threads=2).workers == 1  # parts of 16 examples at least
    mlp = Sequential([Dense(128), ReLU(), Dense(64), ReLU(), Dense(10), Softmax()], input_shape=784)
    assert mlp.multiply_adds() == 784 * 128 + 128 * 64 + 64 * 10
    assert plan_threads(mlp, 32, threads=2) == ThreadPlan(workers=1, blas_threads=1)
    assert plan_threads(mlp, 512, threads=2) == ThreadPlan(workers=1, blas_threads=2)
    with pytest.raises(
        ValueError, match=r"^threads \(cores to use\) must be an integer >= 1, got 0$"
    ):
        plan_threads(mlp, 32, threads=0)


def split_everything(monkeypatch):
    """Make every step big enough to split, so that small test models take the threads."""
    monkeypatch.setattr(parallel, "ELEMENTWISE_WORK", 0)


def test_trainer_splits_big_steps_and_trains_reproducibly(monkeypatch):
    split_everything(monkeypatch)
    x, y = images(96, seed=1)
    for k in range(3):  # class k: a bright 3x3 patch at a place of its own
        x[y == k, 0, 2 * k : 2 * k + 3, 2 * k : 2 * k + 3] += 3.0
    runs = []
    for _ in range(2):
        model = small_cnn(dropout=0.2, dtype="float32")
        trainer = Trainer(model, Adam(0.01), epochs=10, batch_size=32, progress=False, threads=2)
        history = trainer.fit(x, y)
        assert trainer.thread_plan == ThreadPlan(workers=2, blas_threads=1)
        runs.append((model.params.data.copy(), history))
    (weights, history), (again, _) = runs
    np.testing.assert_array_equal(weights, again)
    assert history["train_accuracy"][-1] > 0.8 > history["train_accuracy"][0]


def test_resuming_a_split_run_with_dropout_continues_it_exactly(monkeypatch, tmp_path):
    split_everything(monkeypatch)
    x, y = images(64, seed=2)

    def fit(epochs, resume_from=None, directory=None):
        model = small_cnn(dropout=0.3, dtype="float32")
        trainer = Trainer(
            model, Adam(0.01), epochs=epochs, batch_size=32, progress=False, threads=2,
            checkpoint_dir=directory,
        )  # fmt: skip
        trainer.fit(x, y, resume_from=resume_from)
        return model.params.data.copy()

    straight = fit(4)
    fit(2, directory=tmp_path)
    resumed = fit(4, resume_from=tmp_path / "epoch-0002.safetensors")
    np.testing.assert_array_equal(resumed, straight)


class StopAfter(Callback):
    """Asks the trainer to stop after step ``at``, as the Ctrl-C handler does."""

    def __init__(self, at=None):
        self.at = at

    def on_step_end(self, step, loss, trainer):
        if step == self.at:
            trainer.interrupt_requested = True


def test_a_split_run_with_dropout_stopped_mid_epoch_resumes_exactly(monkeypatch, tmp_path):
    split_everything(monkeypatch)
    x, y = images(96, seed=5)

    def trainer(stop_at=None):
        return Trainer(
            small_cnn(dropout=0.3, dtype="float32"), Adam(0.01), epochs=3, batch_size=32,
            progress=False, threads=2, checkpoint_dir=tmp_path, callbacks=[StopAfter(stop_at)],
        )  # fmt: skip

    straight = trainer()
    straight.checkpoint_dir = None
    straight.fit(x, y)
    with pytest.raises(TrainingInterrupted) as stopped:
        trainer(stop_at=5).fit(x, y)  # epoch 2, step 2 of 3
    assert (stopped.value.epoch, stopped.value.step) == (2, 2)
    resumed = trainer()
    resumed.fit(x, y, resume_from=stopped.value.checkpoint)
    assert resumed.history.step_loss == straight.history.step_loss
    np.testing.assert_array_equal(resumed.model.params.data, straight.model.params.data)


def test_a_diverging_split_run_stops_and_says_where(monkeypatch):
    from chainrule.nn.optim import SGD
    from chainrule.training.trainer import TrainingDiverged

    split_everything(monkeypatch)
    x, _ = images(64)
    model = Sequential([Flatten(), Dense(16), Dense(1)], loss="mse", input_shape=(1, 8, 8))
    # a linear network with MSE and a huge step blows up within a few steps
    trainer = Trainer(model, SGD(10.0), epochs=3, batch_size=32, progress=False, threads=2)
    with pytest.raises(TrainingDiverged, match=r"diverged at epoch 1, step \d+") as error:
        trainer.fit(x * 1e3, x[:, 0, 0, :1])
    assert trainer.thread_plan.workers == 2
    assert len(trainer.history.step_loss) == error.value.step - 1


def test_map_chunks_returns_every_chunk_in_order():
    model = small_cnn()
    with DataParallel(model, workers=2) as data_parallel:
        rows = data_parallel.map_chunks(lambda replica, chunk: (chunk.start, chunk.stop), 23, 5)
    assert rows == [(0, 5), (5, 10), (10, 15), (15, 20), (20, 23)]


def test_validation_under_threads_equals_evaluate(monkeypatch):
    split_everything(monkeypatch)
    model = small_cnn()
    # validation in chunks of 5 images, dealt out to the two threads
    monkeypatch.setattr(chainrule.nn.model, "INFERENCE_VALUES", 5 * model.activation_size())
    x, y = images(64, seed=3)
    x_val, y_val = images(37, seed=4)
    trainer = Trainer(model, Adam(0.01), epochs=2, batch_size=32, progress=False, threads=2)
    history = trainer.fit(x, y, validation_data=(x_val, y_val))
    loss, accuracy = trainer.evaluate(x_val, y_val)  # after fit: one thread, same weights
    assert history["val_loss"][-1] == pytest.approx(loss, rel=1e-12)
    assert history["val_accuracy"][-1] == accuracy
